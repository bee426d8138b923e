"""Calibration error, reliability curves, Brier score and temperature scaling (lossbook.calibration).

Oracles:

* torchmetrics: ``book/torchmetrics_calibration.json`` (beside the chapter that shows the comparison, so
  that its copies on Colab and in the assignments find it as they find their other data), written by
  ``tools/torchmetrics_golden.py`` (torchmetrics 1.9.0 on torch 2.14.1; neither is a dependency of the
  course). Tolerances: 1e-12 (absolute) where torchmetrics computed in float64 (the binary version on
  float64 input); 1e-6 where it computed in float32 (every multiclass case, since torchmetrics casts the
  confidences to float32, and the binary version on float32 input), which is float32 rounding of sums
  of a few hundred terms. The cases put confidences exactly on the bin edges and at 1.0, where a
  wrong edge (``np.linspace`` instead of ``torch.linspace``) or a merged last bin changes the value.
* scikit-learn's ``brier_score_loss`` for the Brier score (binary and multiclass), called live.
* Hand cases: a perfectly calibrated predictor scores 0, a constant confidence scores its gap.
* Properties: ECE <= RMSCE <= MCE, one bin gives |mean confidence - accuracy|, invariance to the
  order of the samples, finite differences for the gradients.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from lossbook.calibration import (
    ROW_SUM_ATOL,
    bin_edges,
    brier_score,
    brier_score_grad,
    calibration_error,
    fit_temperature,
    reliability_curve,
    temperature_nll,
)
from lossbook.gradcheck import numerical_grad
from lossbook.optim import Adam
from lossbook.stable import softmax

GOLDEN = json.loads((Path(__file__).parent.parent / "book" / "torchmetrics_calibration.json").read_text())


def golden_input(name):
    stored = GOLDEN["inputs"][name]
    probs = stored["probs"]
    return (np.array(probs["array"], dtype=probs["dtype"]).reshape(probs["shape"]),
            np.array(stored["target"]["array"], dtype=np.int64))


@pytest.fixture
def rng():
    return np.random.default_rng(20261203)


# ------------------------------------------------------------------------------------------------
# torchmetrics


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[case["id"] for case in GOLDEN["cases"]])
def test_calibration_error_equals_torchmetrics(case):
    probs, target = golden_input(case["input"])
    ours = calibration_error(probs, target, n_bins=case["n_bins"], norm=case["norm"])
    assert ours.dtype == probs.dtype
    tolerance = 1e-12 if case["torch_dtype"] == "float64" else 1e-6
    assert abs(float(ours) - case["value"]) <= tolerance


def test_golden_file_covers_edges_ones_norms_and_both_kinds():
    ids = [case["id"] for case in GOLDEN["cases"]]
    assert {case["norm"] for case in GOLDEN["cases"]} == {"l1", "l2", "max"}
    assert any("on-edges" in i and "multiclass" in i for i in ids)
    assert any("on-edges" in i and "binary" in i for i in ids)
    assert any("confidence-one" in i for i in ids)
    assert {case["torch_dtype"] for case in GOLDEN["cases"]} >= {"float32", "float64"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bin_edges_equal_torch_linspace_exactly(dtype):
    for n_bins, edges in GOLDEN["bin_edges"][dtype].items():
        np.testing.assert_array_equal(bin_edges(int(n_bins), dtype), np.array(edges, dtype=dtype), err_msg=n_bins)


def test_bin_edges_are_close_to_k_over_n_and_exact_at_the_ends():
    for n_bins in (1, 3, 7, 15, 100):
        for dtype in (np.float32, np.float64):
            edges = bin_edges(n_bins, dtype)
            assert edges.dtype == dtype and edges[0] == 0 and edges[-1] == 1
            assert np.all(np.diff(edges) > 0)
            exact = np.arange(n_bins + 1) / n_bins
            assert np.all(np.abs(edges - exact) <= 2 * np.finfo(dtype).eps)


# ------------------------------------------------------------------------------------------------
# Hand cases


def test_a_perfectly_calibrated_predictor_scores_zero():
    # binary: 10 at 0.7 with 7 positives, 5 at 0.2 with 1 positive
    positive = np.r_[np.full(10, 0.7), np.full(5, 0.2)]
    target = np.r_[np.ones(7), np.zeros(3), np.ones(1), np.zeros(4)].astype(int)
    # multiclass: confidence 0.75, right 3 times out of 4
    probs = np.tile([[0.75, 0.25, 0.0]], (4, 1))
    labels = [0, 0, 0, 1]
    for norm in ("l1", "l2", "max"):
        assert calibration_error(positive, target, n_bins=10, norm=norm) == pytest.approx(0, abs=1e-15)
        assert calibration_error(probs, labels, n_bins=15, norm=norm) == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize("n_bins", [1, 4, 15])
def test_a_constant_confidence_scores_its_gap(n_bins):
    probs = np.tile([[0.2, 0.6, 0.2]], (10, 1))
    labels = np.r_[np.ones(9), np.zeros(1)].astype(int)  # 90% right at confidence 0.6
    for norm in ("l1", "l2", "max"):
        assert calibration_error(probs, labels, n_bins=n_bins, norm=norm) == pytest.approx(0.3, abs=1e-15)


def test_a_confidence_of_one_has_a_bin_of_its_own():
    # one wrong prediction at confidence 1.0 and a right one at 0.92; 10 bins
    probs = np.array([[1.0, 0.0], [0.92, 0.08]])
    separate = 0.5 * abs(0 - 1.0) + 0.5 * abs(1 - 0.92)  # 0.54
    assert calibration_error(probs, [1, 0], n_bins=10) == pytest.approx(separate, abs=1e-15)
    curve = reliability_curve(probs, [1, 0], n_bins=10)
    assert curve.count.tolist() == [0] * 9 + [1, 1] and curve.lower[-1] == curve.upper[-1] == 1


def test_a_confidence_on_an_edge_goes_to_the_upper_bin():
    curve = reliability_curve([0.5, 0.25, 0.0], [1, 0, 0], n_bins=4)
    assert curve.count.tolist() == [1, 1, 1, 0, 0]


def test_reliability_curve_on_the_torchmetrics_docstring_example():
    curve = reliability_curve([0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1], n_bins=2)
    assert curve.count.tolist() == [2, 3, 0]
    np.testing.assert_allclose(curve.confidence[:2], [0.25, (0.55 + 1.5) / 3], rtol=1e-15)
    np.testing.assert_array_equal(curve.accuracy[:2], [0, 1])
    assert np.isnan(curve.confidence[2]) and np.isnan(curve.accuracy[2])


# ------------------------------------------------------------------------------------------------
# Properties


def random_probs(rng, n=300, c=6, sharpness=0.3):
    probs = rng.dirichlet(np.full(c, sharpness), size=n)
    labels = np.array([rng.choice(c, p=row) for row in probs])
    return probs, labels


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
def test_norms_are_ordered_and_within_zero_one(rng, n_bins):
    probs, labels = random_probs(rng)
    ece, rms, mce = (float(calibration_error(probs, labels, n_bins=n_bins, norm=n)) for n in ("l1", "l2", "max"))
    assert 0 <= ece <= rms + 1e-15 and rms <= mce + 1e-15 and mce <= 1


def test_one_bin_gives_the_gap_between_mean_confidence_and_accuracy(rng):
    probs, labels = random_probs(rng)
    gap = abs(np.mean(probs.argmax(axis=1) == labels) - probs.max(axis=1).mean())
    assert calibration_error(probs, labels, n_bins=1) == pytest.approx(gap, rel=1e-12)


def test_the_order_of_the_samples_does_not_matter(rng):
    probs, labels = random_probs(rng)
    order = rng.permutation(len(labels))
    for norm in ("l1", "l2", "max"):
        assert calibration_error(probs[order], labels[order], norm=norm) == pytest.approx(
            calibration_error(probs, labels, norm=norm), rel=1e-12)


def test_reliability_curve_counts_and_confidences_lie_in_their_bins(rng):
    probs, labels = random_probs(rng)
    curve = reliability_curve(probs, labels, n_bins=10)
    assert curve.count.sum() == len(labels) and len(curve.count) == 11
    filled = curve.count > 0
    assert np.all(curve.lower[filled] <= curve.confidence[filled])
    assert np.all(curve.confidence[filled][:-1] <= curve.upper[filled][:-1])


def test_float32_in_float32_out(rng):
    probs, labels = random_probs(rng)
    probs32 = probs.astype(np.float32)
    assert calibration_error(probs32, labels).dtype == np.float32
    assert brier_score(probs32, labels).dtype == np.float32
    assert brier_score_grad(probs32, labels).dtype == np.float32


def test_boolean_binary_targets_are_labels(rng):
    positive = rng.uniform(size=50)
    target = rng.uniform(size=50) < positive
    assert calibration_error(positive, target) == calibration_error(positive, target.astype(int))


# ------------------------------------------------------------------------------------------------
# Brier score


def test_brier_score_equals_scikit_learn(rng):
    probs, labels = random_probs(rng, c=4)
    assert brier_score(probs, labels) == pytest.approx(brier_score_loss(labels, probs, labels=range(4)), rel=1e-12)
    positive = rng.uniform(size=80)
    target = (rng.uniform(size=80) < positive).astype(int)
    assert brier_score(positive, target) == pytest.approx(brier_score_loss(target, positive), rel=1e-12)


def test_brier_score_by_hand_and_its_reductions():
    assert brier_score([[0.7, 0.2, 0.1]], [0]) == pytest.approx(0.3**2 + 0.2**2 + 0.1**2, rel=1e-14)
    per_sample = brier_score([0.9, 0.2], [1, 0], reduction="none")
    np.testing.assert_allclose(per_sample, [0.01, 0.04], rtol=1e-14)
    assert brier_score([0.9, 0.2], [1, 0], reduction="sum") == pytest.approx(0.05, rel=1e-14)


def test_two_class_brier_is_twice_the_binary_one(rng):
    positive = rng.uniform(size=30)
    target = rng.integers(0, 2, size=30)
    assert brier_score(np.c_[1 - positive, positive], target) == pytest.approx(2 * brier_score(positive, target))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_brier_score_grad_against_finite_differences(rng, reduction):
    probs, labels = random_probs(rng, n=7, c=3)
    # the score as a function of any array (the gradient ignores the sum-to-one constraint, as does autograd)
    onehot = np.eye(3)[labels]

    def total(p):
        return np.sum(np.sum((p - onehot) ** 2, axis=1)) / (len(p) if reduction == "mean" else 1)

    numeric = numerical_grad(total, probs.copy())
    np.testing.assert_allclose(brier_score_grad(probs, labels, reduction=reduction), numeric, rtol=1e-7, atol=1e-9)


def test_expected_brier_and_nll_are_smallest_at_the_true_probabilities(rng):
    q = np.array([0.6, 0.3, 0.1])
    candidates = rng.dirichlet(np.ones(3), size=500)

    def expected_brier(p):
        return sum(q[k] * np.sum((p - np.eye(3)[k]) ** 2) for k in range(3))

    def expected_nll(p):
        return -np.sum(q * np.log(p))

    assert all(expected_brier(p) > expected_brier(q) for p in candidates)
    assert all(expected_nll(p) > expected_nll(q) for p in candidates)


# ------------------------------------------------------------------------------------------------
# Temperature scaling


def test_temperature_nll_slope_against_finite_differences(rng):
    logits = 4 * rng.normal(size=(40, 5))
    labels = rng.integers(0, 5, size=40)
    for u in (-1.0, 0.0, 0.7):
        _, slope = temperature_nll(u, logits, labels)
        numeric = numerical_grad(lambda v: temperature_nll(float(v[0]), logits, labels)[0], np.array([u]))[0]
        assert slope == pytest.approx(numeric, rel=1e-6)


def test_fit_temperature_finds_the_grid_minimum_and_keeps_the_argmax(rng):
    true_logits = 2 * rng.normal(size=(400, 4))
    labels = np.array([rng.choice(4, p=row) for row in softmax(true_logits, axis=1)])
    overconfident = 2.5 * true_logits
    temperature, history = fit_temperature(overconfident, labels)
    grid = np.linspace(1.0, 5.0, 4001)
    best = grid[np.argmin([temperature_nll(np.log(t), overconfident, labels)[0] for t in grid])]
    assert abs(temperature - best) <= 1e-3
    assert history[-1] < history[0]
    assert np.array_equal(np.argmax(overconfident / temperature, axis=1), np.argmax(overconfident, axis=1))
    with_adam, _ = fit_temperature(overconfident, labels, optimizer=Adam(lr=0.05), steps=400)
    assert abs(with_adam - best) <= 5e-3


@pytest.mark.parametrize("scale", [0.05, 1.0, 20.0, 100.0])
def test_fit_temperature_from_far_away(rng, scale):
    # Logits `scale` times too large: the best T is near `scale`, reached from T = 1 in either direction.
    true_logits = 2 * rng.normal(size=(300, 10))
    labels = np.array([rng.choice(10, p=row) for row in softmax(true_logits, axis=1)])
    temperature, _ = fit_temperature(scale * true_logits, labels)
    grid = np.exp(np.linspace(np.log(scale) - 1, np.log(scale) + 1, 4001))
    best = grid[np.argmin([temperature_nll(np.log(t), scale * true_logits, labels)[0] for t in grid])]
    assert abs(np.log(temperature) - np.log(best)) <= 1e-3


# ------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("function", [calibration_error, brier_score, reliability_curve])
def test_bad_input_is_refused_clearly(function):
    good = np.array([[0.5, 0.5], [0.9, 0.1]])
    with pytest.raises(ValueError, match=r"probs must be probabilities in \[0, 1\].*got 1.1"):
        function([[1.1, -0.1]], [0])
    with pytest.raises(ValueError, match="probabilities in"):
        function([0.5, np.nan], [0, 1])
    with pytest.raises(ValueError, match=f"sum to 1 \\(within {ROW_SUM_ATOL:g}\\); row 1 sums to 0.9"):
        function([[0.5, 0.5], [0.5, 0.4]], [0, 1])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\); got 2"):
        function(good, [0, 2])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\); got -1"):
        function([0.2, 0.7], [-1, 1])
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        function(good, [0, 1, 1])
    with pytest.raises(ValueError, match=r"shape \(N,\).*or \(N, C\) with C >= 2; got \(2, 1\)"):
        function([[1.0], [1.0]], [0, 0])
    with pytest.raises(ValueError, match=r"got \(1, 2, 2\)"):
        function(good[None], [0, 1])
    with pytest.raises(ValueError, match="at least one sample"):
        function(np.zeros((0, 3)), [])
    with pytest.raises(ValueError, match="whole numbers"):
        function(good, [0.5, 1])
    with pytest.raises(TypeError, match="probs must hold real numbers"):
        function(["a", "b"], [0, 1])


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="n_bins must be at least 1; got 0"):
        calibration_error([0.5], [1], n_bins=0)
    with pytest.raises(TypeError, match="n_bins must be an integer"):
        calibration_error([0.5], [1], n_bins=2.5)
    with pytest.raises(ValueError, match="norm must be one of"):
        calibration_error([0.5], [1], norm="l3")
    with pytest.raises(ValueError, match="reduction must be one of"):
        brier_score([0.5], [1], reduction="avg")
    with pytest.raises(ValueError, match="log_temperature must be a finite number"):
        temperature_nll(np.inf, [[1.0, 0.0]], [0])
