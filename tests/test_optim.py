"""Optimizers on a quadratic with a known minimum, and their update rules against PyTorch's."""

import numpy as np
import pytest

from lossbook.optim import Adam, GradientDescent, Momentum

A = np.diag([1.0, 10.0])  # f(x) = 0.5 (x - m)^T A (x - m), minimum at m
MINIMUM = np.array([3.0, -2.0])


def run(optimizer, steps):
    params = {"x": np.zeros(2)}
    for _ in range(steps):
        optimizer.step(params, {"x": A @ (params["x"] - MINIMUM)})
    return params["x"]


@pytest.mark.parametrize(
    ("optimizer", "steps"),
    [
        (GradientDescent(lr=0.15), 200),
        (Momentum(lr=0.05, momentum=0.8), 200),
        (Momentum(lr=0.05, momentum=0.8, nesterov=True), 200),
        (Adam(lr=0.1), 1000),
    ],
    ids=["gd", "momentum", "nesterov", "adam"],
)
def test_reaches_the_minimum_of_a_quadratic(optimizer, steps):
    np.testing.assert_allclose(run(optimizer, steps), MINIMUM, atol=1e-6)


def test_gradient_descent_diverges_above_two_over_the_largest_curvature():
    # Along the stiff axis x <- (1 - lr * 10) x: |1 - 10 lr| > 1 once lr > 0.2.
    assert np.abs(run(GradientDescent(lr=0.21), 200)[1]) > 1e3


def test_momentum_first_steps_by_hand():
    optimizer, params = Momentum(lr=0.1, momentum=0.5), {"w": np.array([0.0])}
    optimizer.step(params, {"w": np.array([1.0])})  # v = 1, w = -0.1
    optimizer.step(params, {"w": np.array([1.0])})  # v = 1.5, w = -0.25
    np.testing.assert_allclose(params["w"], [-0.25])


def test_adam_first_step_is_lr_times_sign():
    params = {"w": np.array([0.0, 0.0])}
    Adam(lr=0.01).step(params, {"w": np.array([3.0, -0.5])})
    np.testing.assert_allclose(params["w"], [-0.01, 0.01], rtol=1e-6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GradientDescent(lr=-1.0), "lr"),
        (lambda: Momentum(lr=0.1, momentum=1.0), "momentum must be below 1"),
        (lambda: Adam(betas=(0.9, 1.0)), "betas"),
        (lambda: GradientDescent(lr="fast"), "lr must be a real number"),
    ],
)
def test_bad_hyperparameters(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()
