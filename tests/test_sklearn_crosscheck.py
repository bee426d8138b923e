"""lossbook's gradient descent reaches scikit-learn's regularized optimum (the training chapter's cross-check).

scikit-learn's multinomial LogisticRegression minimizes 1/2 ||W||^2 + C sum_i CE_i (intercept not
penalized); lossbook minimizes (1/N) sum_i CE_i + lam ||W||^2. Dividing the first by C N gives the
second with C = 1 / (2 lam N). Both solvers must reach the same objective and predictions.
"""

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from lossbook.datasets import load_digits
from lossbook.models import LinearSoftmax
from lossbook.optim import Momentum
from lossbook.training import train


def test_same_objective_and_predictions_as_scikit_learn():
    X, y, X_test, _ = load_digits(test_fraction=0.8, rng=np.random.default_rng(0))  # 359 training images
    lam = 1e-2
    model = LinearSoftmax(64, 10, np.random.default_rng(1))
    train(model, X, y, Momentum(0.5, 0.9, nesterov=True), steps=3000, lam=lam)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a convergence warning would make the comparison meaningless
        reference = LogisticRegression(C=1 / (2 * lam * len(X)), tol=1e-12, max_iter=10_000).fit(X, y)
    ours_objective, _ = model.loss_and_grads(X, y, lam)
    theirs = LinearSoftmax(64, 10, np.random.default_rng(2))
    theirs.params["W"], theirs.params["b"] = reference.coef_.T.copy(), reference.intercept_[None, :].copy()
    theirs_objective, _ = theirs.loss_and_grads(X, y, lam)

    assert abs(ours_objective - theirs_objective) <= 1e-6 * theirs_objective
    np.testing.assert_array_equal(model.predict(X_test), reference.predict(X_test))
