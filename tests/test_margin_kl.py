"""multi_margin_loss and kl_div: PyTorch golden values, properties, errors."""

import numpy as np
import pytest

from lossbook import cross_entropy, kl_div, kl_div_grad, log_softmax, multi_margin_loss, multi_margin_loss_grad

Z = np.array([[3.0, 2.5, 0.0, 1.0], [0.0, 1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0]])
LABELS = np.array([0, 2, 1])


def test_multi_margin_matches_torch():
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    assert multi_margin_loss(Z, LABELS, weight=weight) == pytest.approx(0.5416666667, abs=1e-9)
    np.testing.assert_allclose(
        multi_margin_loss_grad(Z, LABELS, weight=weight),
        [[-1 / 12, 1 / 12, 0, 0], [0, 0, 0, 0], [1 / 6, -0.5, 1 / 6, 1 / 6]],
        atol=1e-9,
    )
    assert multi_margin_loss(Z, LABELS, margin=0.5, reduction="sum", p=2) == pytest.approx(0.1875, abs=1e-12)
    np.testing.assert_allclose(
        multi_margin_loss_grad(Z, LABELS, margin=0.5, reduction="sum", p=2),
        [[0, 0, 0, 0], [0, 0, 0, 0], [0.25, -0.75, 0.25, 0.25]],
        atol=1e-12,
    )


def test_multi_margin_is_zero_once_every_margin_is_met(rng):
    logits = rng.normal(size=(6, 5))
    target = rng.integers(0, 5, size=6)
    logits[np.arange(6), target] += 10
    assert multi_margin_loss(logits, target) == 0.0
    np.testing.assert_array_equal(multi_margin_loss_grad(logits, target), 0.0)
    assert cross_entropy(logits, target) > 0  # cross-entropy never stops asking for more


def test_kl_matches_torch():
    log_probs = log_softmax([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5]])
    q = np.array([[0.2, 0.0, 0.8], [0.5, 0.25, 0.25]])
    assert kl_div(log_probs, q, reduction="batchmean") == pytest.approx(0.2237198449, abs=1e-9)
    np.testing.assert_allclose(
        kl_div_grad(log_probs, q, reduction="batchmean"), [[-0.1, 0.0, -0.4], [-0.25, -0.125, -0.125]]
    )
    # PyTorch's default, "mean", divides by the 6 elements rather than the 2 samples.
    assert kl_div(log_probs, q) == pytest.approx(0.2237198449 / 3, abs=1e-9)
    log_q = np.log([[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]])
    assert kl_div(log_probs, log_q, reduction="sum", log_target=True) == pytest.approx(0.2181890992, abs=1e-9)


def test_kl_is_zero_iff_equal_and_is_cross_entropy_minus_entropy(rng):
    q = rng.dirichlet(np.ones(4), size=5)
    assert kl_div(np.log(q), q) == pytest.approx(0.0, abs=1e-15)
    logits = rng.normal(size=(5, 4))
    entropy = -np.sum(q * np.log(q)) / 5
    kl = kl_div(log_softmax(logits), q, reduction="batchmean")  # the KL divergence per sample
    assert kl == pytest.approx(cross_entropy(logits, q) - entropy, rel=1e-12)
    assert kl > 0


def test_margin_and_kl_reject_bad_input():
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\); got 4"):
        multi_margin_loss(Z, [0, 4, 1])
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        multi_margin_loss(Z, LABELS, p=3)
    with pytest.raises(TypeError, match="margin must be a real number"):
        multi_margin_loss_grad(Z, LABELS, margin="1")
    with pytest.raises(ValueError, match="probabilities, which must be >= 0"):
        kl_div(np.zeros((1, 2)), [[-0.5, 1.5]])
    with pytest.raises(ValueError, match="target must have the shape of input"):
        kl_div_grad(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="batchmean"):
        kl_div(np.zeros((1, 2)), np.zeros((1, 2)), reduction="batch")
