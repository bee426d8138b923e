"""Binary cross-entropy with logits and sigmoid focal loss: PyTorch/torchvision golden values, extremes, errors.

Golden values: torch 2.13.0 in float64, ``binary_cross_entropy_with_logits`` and torchvision's
``sigmoid_focal_loss`` formula (transcribed, as torchvision 0.28 writes it), gradients by autograd.
"""

import numpy as np
import pytest

from lossbook import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
)
from lossbook.gradcheck import numerical_grad, relative_error

X = np.array([[1.5, -0.5, 0.2], [-2.0, 0.3, 3.0]])
Y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
SOFT = np.array([[0.7, 0.1, 1.0], [0.0, 0.4, 0.9]])


def test_bce_weight_and_pos_weight_match_torch():
    options = {"weight": [1.0, 2.0, 0.5], "pos_weight": [3.0, 1.0, 0.5]}
    assert binary_cross_entropy_with_logits(X, Y, **options) == pytest.approx(0.5916189763, abs=1e-9)
    np.testing.assert_allclose(
        binary_cross_entropy_with_logits_grad(X, Y, **options),
        [[-0.0912127619, 0.1258468896, -0.0187569168], [0.0198671537, 0.1914808389, -0.001976078]],
        atol=1e-9,
    )


def test_focal_matches_torchvision():
    assert sigmoid_focal_loss(X, Y, reduction="sum") == pytest.approx(0.29548175, abs=1e-8)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad(X, Y, reduction="sum"),
        [[-0.0042577763, 0.103452748, -0.0561298479], [0.0036532051, 0.3221298514, -7.8718e-05]],
        atol=1e-9,
    )
    options = {"alpha": -1.0, "gamma": 1.5, "reduction": "mean"}
    assert sigmoid_focal_loss(X, SOFT, **options) == pytest.approx(0.1261716518, abs=1e-9)
    np.testing.assert_allclose(
        sigmoid_focal_loss_grad(X, SOFT, **options),
        [[-0.0014699666, 0.0274096285, -0.0474942724], [0.0019679276, 0.0171824146, -0.0007208638]],
        atol=1e-9,
    )


def test_focal_with_gamma_zero_is_alpha_weighted_bce():
    alpha_t = 0.25 * Y + 0.75 * (1 - Y)
    np.testing.assert_allclose(
        sigmoid_focal_loss(X, Y, gamma=0.0),
        alpha_t * binary_cross_entropy_with_logits(X, Y, reduction="none"),
        rtol=1e-14,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(dtype):
    logits = np.array([-1e4, -50.0, 50.0, 1e4], dtype=dtype)
    target = np.array([1.0, 1.0, 0.0, 0.0], dtype=dtype)  # all confidently wrong
    losses = binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert losses.dtype == dtype
    np.testing.assert_allclose(losses, np.abs(logits), rtol=1e-6)
    np.testing.assert_allclose(binary_cross_entropy_with_logits_grad(logits, target, reduction="sum"), [-1, -1, 1, 1])
    for gamma in (0.0, 0.5, 2.0):
        assert np.all(np.isfinite(sigmoid_focal_loss(logits, target, gamma=gamma)))
        assert np.all(np.isfinite(sigmoid_focal_loss_grad(logits, target, gamma=gamma)))


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.9])
def test_focal_gradient_finite_where_autograd_gives_nan(gamma):
    # A perfect prediction (p_t == 1 in floating point): torchvision's (1 - p_t) ** gamma has an
    # infinite derivative there and autograd returns 0 * inf = nan. The true limit is 0.
    grad = sigmoid_focal_loss_grad([40.0, -40.0], [1.0, 0.0], gamma=gamma)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, 0.0, atol=1e-15)


def test_focal_gradient_near_perfect_predictions_matches_finite_differences():
    logits, target = np.array([8.0, -9.0, 12.0]), np.array([1.0, 0.0, 1.0])
    for gamma in (0.5, 2.0):
        expected = numerical_grad(lambda x, gamma=gamma: sigmoid_focal_loss(x, target, gamma=gamma, reduction="sum"),
                                  logits, h=1e-5)
        got = sigmoid_focal_loss_grad(logits, target, gamma=gamma, reduction="sum")
        assert relative_error(got, expected) < 1e-5


def test_bce_properties(rng):
    logits = rng.normal(scale=3, size=50)
    target = rng.integers(0, 2, size=50).astype(float)
    losses = binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert np.all(losses >= 0)
    # Symmetry: flipping the label and the logit's sign gives the same loss.
    flipped = binary_cross_entropy_with_logits(-logits, 1 - target, reduction="none")
    np.testing.assert_allclose(flipped, losses, rtol=1e-12)


@pytest.mark.parametrize("function", [binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad])
def test_bce_rejects_bad_input(function):
    with pytest.raises(ValueError, match="target must have the shape of logits"):
        function(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) must broadcast to the shape of logits"):
        function(X, Y, pos_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="weight of shape"):  # (N,) against (N, C): PyTorch would broadcast wrongly
        function(X, Y, weight=np.ones(2))
    with pytest.raises(TypeError, match="target must hold real numbers"):
        function(X, np.array([["a"] * 3] * 2))
    with pytest.raises(ValueError, match="reduction"):
        function(X, Y, reduction="avg")


@pytest.mark.parametrize("function", [sigmoid_focal_loss, sigmoid_focal_loss_grad])
def test_focal_rejects_bad_input(function):
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        function(X, Y, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha must be a finite number <= 1"):
        function(X, Y, alpha=1.5)
    with pytest.raises(TypeError, match="gamma must be a real number"):
        function(X, Y, gamma="2")
    with pytest.raises(ValueError, match="target must have the shape"):
        function(X, Y[:1])


def test_tiny_gradients_of_confident_predictions_keep_their_relative_precision():
    # For a positive at z = 40 the BCE gradient is sigma(40) - 1 = -sigma(-40) = -4.248e-18; computing
    # sigma(40) - 1 would round it to 0. Same for focal loss (exact value from SymPy at 30 digits).
    np.testing.assert_allclose(
        binary_cross_entropy_with_logits_grad([40.0], [1.0]), [-np.exp(-40) / (1 + np.exp(-40))], rtol=1e-12
    )
    np.testing.assert_allclose(sigmoid_focal_loss_grad([40.0], [1.0], gamma=0.5), [-3.28369153601120e-27], rtol=1e-9)
