"""Backward passes of the models against finite differences of their loss."""

import numpy as np
import pytest

from lossbook.gradcheck import numerical_grad, relative_error
from lossbook.models import LinearSoftmax, TwoLayerNet


def make_models(rng):
    return [LinearSoftmax(4, 3, rng, weight_scale=0.5), TwoLayerNet(4, 6, 3, rng, weight_scale=0.5)]


@pytest.mark.parametrize("index", [0, 1], ids=["linear", "two-layer"])
@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_backward_matches_finite_differences(rng, index, lam):
    model = make_models(rng)[index]
    for name in model.params:  # nonzero biases, so that their gradients are exercised too
        model.params[name] += 0.1 * rng.standard_normal(model.params[name].shape)
    X, y = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
    _, grads = model.loss_and_grads(X, y, lam)
    assert sorted(grads) == sorted(model.params)
    for name, value in model.params.items():
        def loss_at(v, name=name):
            saved = model.params[name]
            model.params[name] = v
            try:
                return model.loss_and_grads(X, y, lam)[0]
            finally:
                model.params[name] = saved

        assert grads[name].shape == value.shape
        assert relative_error(grads[name], numerical_grad(loss_at, value)) < 1e-6, name


def test_regularization_leaves_biases_alone(rng):
    model = LinearSoftmax(3, 2, rng)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    _, plain = model.loss_and_grads(X, y, 0.0)
    _, regularized = model.loss_and_grads(X, y, 0.1)
    np.testing.assert_allclose(regularized["b"], plain["b"])
    np.testing.assert_allclose(regularized["W"] - plain["W"], 0.2 * model.params["W"], rtol=1e-12)


def test_predict_and_accuracy(rng):
    model = LinearSoftmax(2, 2, rng)
    model.params["W"] = np.array([[1.0, -1.0], [0.0, 0.0]])
    X = np.array([[2.0, 0.0], [-2.0, 0.0]])
    np.testing.assert_array_equal(model.predict(X), [0, 1])
    assert model.accuracy(X, [0, 0]) == 0.5
