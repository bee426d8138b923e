"""The training loop and the data sets: the CS231n trace reproduced, determinism, minibatches."""

import numpy as np
import pytest

from lossbook.datasets import load_digits, make_spiral, stratified_split
from lossbook.models import LinearSoftmax
from lossbook.optim import GradientDescent, Momentum
from lossbook.training import train


def cs231n_spiral_and_generator():
    # The notes call np.random.seed(0), build the spiral, and draw three (D, K) matrices before
    # the linear classifier's weights: the published trace needs the same draws.
    legacy = np.random.RandomState(0)
    X, y = make_spiral(rng=legacy)
    for _ in range(3):
        legacy.randn(2, 3)
    return X, y, legacy


def test_cs231n_linear_classifier_trace():
    X, y, legacy = cs231n_spiral_and_generator()
    model = LinearSoftmax(2, 3, legacy)
    lines = []
    # CS231n's reg = 1e-3 with a 1/2 factor is lam = 5e-4 in the post's convention.
    history = train(model, X, y, GradientDescent(1.0), steps=200, lam=5e-4, log_every=10, log=lines.append)
    assert lines[0] == "step 0: loss 1.096956"
    assert lines[-1] == "step 190: loss 0.786302"
    assert round(model.accuracy(X, y), 2) == 0.49
    assert history.steps == 200


def test_same_seed_same_numbers():
    def run():
        rng = np.random.default_rng(5)
        X, y = make_spiral(rng=rng)
        model = LinearSoftmax(2, 3, rng)
        return train(model, X, y, Momentum(0.1), steps=50, batch_size=32, rng=rng, log=None).loss

    assert run() == run()


def test_evaluation_records_accuracies(rng):
    X, y = make_spiral(rng=rng)
    history = train(
        LinearSoftmax(2, 3, rng), X, y, GradientDescent(1.0), steps=30, evaluate_every=10, X_test=X, y_test=y
    )
    assert sorted(history.train_accuracy) == [10, 20, 30]
    assert history.train_accuracy == history.test_accuracy


def test_training_rejects_bad_arguments(rng):
    X, y = make_spiral(rng=rng)
    model = LinearSoftmax(2, 3, rng)
    with pytest.raises(ValueError, match="same number of samples"):
        train(model, X, y[:-1], GradientDescent(1.0), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, X, y, GradientDescent(1.0), steps=1, batch_size=0, rng=rng)
    with pytest.raises(TypeError, match="needs rng"):
        train(model, X, y, GradientDescent(1.0), steps=1, batch_size=8)
    with pytest.raises(ValueError, match="steps"):
        train(model, X, y, GradientDescent(1.0), steps=-1)


def test_spiral_shape_and_bad_arguments(rng):
    X, y = make_spiral(n_per_class=7, num_classes=4, rng=rng)
    assert X.shape == (28, 2) and np.bincount(y).tolist() == [7] * 4
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-12)
    with pytest.raises(TypeError, match="rng"):
        make_spiral()
    with pytest.raises(ValueError, match="noise"):
        make_spiral(noise=-1.0, rng=rng)


def test_digits_split_is_stratified_and_seeded():
    X_train, y_train, X_test, y_test = load_digits(rng=np.random.default_rng(0))
    assert len(X_train) + len(X_test) == 1797 and X_train.shape[1] == 64
    assert X_train.min() >= 0 and X_train.max() <= 1
    shares = np.bincount(y_test) / np.bincount(y_train)
    assert np.all(np.abs(shares - 1 / 3) < 0.02)  # 25% test: one test image per three train images
    again = load_digits(rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], y_train)


def test_stratified_split_rejects_bad_fraction(rng):
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split([0, 1], 1.0, rng)
