"""Calibration of the dense detector's scores: detection outcomes, binary calibration summaries, both levels."""

import numpy as np
import pytest

from lossbook.datasets import make_scenes
from lossbook.detection import OBJECTNESS
from lossbook.models import DenseDetector
from lossbook.training import CALIBRATION_KEYS, binary_calibration, detection_outcomes, evaluate_calibration

# ------------------------------------------------------------------------------------------------
# detection_outcomes


def iou_one(a, b):
    """IoU of two boxes (x1, y1, x2, y2), in plain Python: the oracle's own."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def greedy_outcomes(preds, targets, threshold):
    """Brute force: all detections of an image by decreasing score; each takes the best free box of its class."""
    scores, correct = [], []
    for pred, target in zip(preds, targets, strict=True):
        order = sorted(range(len(pred["scores"])), key=lambda d: -pred["scores"][d])  # stable, as mergesort
        taken = set()
        for d in order:
            candidates = [(iou_one(pred["boxes"][d], target["boxes"][g]), g) for g in range(len(target["labels"]))
                          if g not in taken and target["labels"][g] == pred["labels"][d]]
            candidates = [(iou, g) for iou, g in candidates if iou >= threshold]
            if candidates:
                best = max(iou for iou, _ in candidates)
                taken.add(max(g for iou, g in candidates if iou == best))  # at a tie the last box, as COCO
            scores.append(pred["scores"][d])
            correct.append(bool(candidates))
    return np.array(scores), np.array(correct, dtype=bool)


def test_hand_built_outcomes():
    boxes = np.array([[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    targets = [{"boxes": boxes, "labels": np.array([0, 1, 1])}, {"boxes": np.zeros((0, 4)), "labels": np.zeros(0)}]
    preds = [
        {"boxes": np.array([[0.0, 0, 10, 10],  # circle, right: IoU 1
                            [0.0, 0, 10, 10],  # circle again, lower score: a duplicate, wrong
                            [20, 20, 30, 30],  # on the class-1 box but says class 0: wrong
                            [40, 40, 50, 45],  # class 1, IoU 0.5 exactly: right
                            [20, 20, 30, 24]]),  # class 1, IoU 0.4: wrong
         "scores": np.array([0.9, 0.6, 0.8, 0.7, 0.5]), "labels": np.array([0, 0, 0, 1, 1])},
        {"boxes": np.array([[1.0, 1, 5, 5]]), "scores": np.array([0.95]), "labels": np.array([2])},  # no object
    ]
    scores, correct = detection_outcomes(preds, targets)
    np.testing.assert_array_equal(scores, [0.9, 0.8, 0.7, 0.6, 0.5, 0.95])
    np.testing.assert_array_equal(correct, [True, False, True, False, False, False])
    _, correct = detection_outcomes(preds, targets, iou_threshold=0.3)  # now the IoU 0.4 box counts
    np.testing.assert_array_equal(correct, [True, False, True, False, True, False])


def test_outcomes_match_a_brute_force_greedy_matching_on_random_scenes():
    rng = np.random.default_rng(5)
    _, targets = make_scenes(60, rng)
    preds = []
    for target in targets:  # jittered copies of the true boxes, some relabelled, plus random boxes
        k = len(target["labels"])
        extra = rng.uniform(0, 40, size=(3, 2))
        boxes = np.concatenate([np.repeat(target["boxes"], 2, axis=0) + rng.normal(0, 2.0, size=(2 * k, 4)),
                                np.hstack([extra, extra + rng.uniform(4, 24, size=(3, 2))])])
        boxes = np.hstack([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])])
        labels = np.concatenate([np.repeat(target["labels"], 2), rng.integers(0, 3, size=3)])
        labels[rng.random(len(labels)) < 0.2] = rng.integers(0, 3)
        scores = rng.choice(np.linspace(0.05, 1, 12), size=len(labels))  # ties between scores, too
        preds.append({"boxes": boxes, "scores": scores, "labels": labels})
    for threshold in (0.3, 0.5, 0.75):
        scores, correct = detection_outcomes(preds, targets, iou_threshold=threshold)
        expected_scores, expected_correct = greedy_outcomes(preds, targets, threshold)
        np.testing.assert_array_equal(scores, expected_scores)
        np.testing.assert_array_equal(correct, expected_correct)
        assert 0 < correct.mean() < 1


def test_outcomes_refuse_bad_input():
    target = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0)}
    with pytest.raises(ValueError, match="iou_threshold"):
        detection_outcomes([], [], iou_threshold=1.5)
    with pytest.raises(ValueError, match="one entry per image"):
        detection_outcomes([], [target])
    with pytest.raises(ValueError, match="keys"):
        detection_outcomes([{"boxes": np.zeros((0, 4))}], [target])
    scores, correct = detection_outcomes([], [])
    assert scores.shape == correct.shape == (0,)


# ------------------------------------------------------------------------------------------------
# binary_calibration


def test_calibrated_scores_have_a_small_error_and_a_shift_raises_it():
    rng = np.random.default_rng(0)
    probs = rng.uniform(size=200_000)
    outcome = rng.uniform(size=probs.size) < probs  # drawn with exactly these probabilities
    calibrated = binary_calibration(probs, outcome)
    # Only the sampling noise of 15 bin frequencies remains: about sqrt(p (1 - p) / 13,000) each, ~0.004.
    assert calibrated["ece"] < 0.01
    assert calibrated["brier"] == pytest.approx(1 / 6, abs=0.003)  # E[p (1 - p)] for p uniform on [0, 1]
    assert calibrated["mean_probability"] == pytest.approx(calibrated["rate"], abs=0.005)
    shifted = binary_calibration(np.clip(probs + 0.1, 0, 1), outcome)
    # Every bin's confidence moves up by 0.1 (less near 1, where the clip cuts it): the ECE follows.
    assert 0.08 < shifted["ece"] < 0.1 + calibrated["ece"]
    assert shifted["brier"] > calibrated["brier"]
    assert shifted["mean_probability"] - shifted["rate"] > 0.08


def test_binary_calibration_of_a_constant_probability():
    # One bin: the ECE is |p - rate|; the Brier score is rate (1 - p)^2 + (1 - rate) p^2.
    outcome = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    measured = binary_calibration(np.full(10, 0.35), outcome)
    assert measured["ece"] == pytest.approx(0.15)
    assert measured["brier"] == pytest.approx(0.2 * 0.65**2 + 0.8 * 0.35**2)
    assert measured["mean_probability"] == pytest.approx(0.35) and measured["rate"] == pytest.approx(0.2)


def test_binary_calibration_empty_and_bad_input():
    assert set(binary_calibration([], []).values()) == {-1.0}  # undefined, as lossbook.metrics marks it
    with pytest.raises(ValueError, match="same shape"):
        binary_calibration([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="probabilities in"):
        binary_calibration([0.5, 1.5], [1, 0])


# ------------------------------------------------------------------------------------------------
# evaluate_calibration


def constant_objectness(model, logit):
    """Make every prediction's objectness logit `logit`, whatever the image."""
    outputs_per_anchor = 5 + model.num_classes
    columns = OBJECTNESS + outputs_per_anchor * np.arange(len(model.anchors))
    head = model.layers + 1
    model.params[f"W{head}"][:, columns] = 0
    model.params[f"b{head}"][columns] = logit
    return model


def test_cell_calibration_of_a_constant_detector_by_hand():
    rng = np.random.default_rng(1)
    images, targets = make_scenes(12, rng)
    model = constant_objectness(DenseDetector(3, rng), np.float32(-2.0))
    measured = evaluate_calibration(model, images, targets)
    assert set(measured) == set(CALIBRATION_KEYS)
    p = 1 / (1 + np.exp(np.float32(2.0)))  # sigmoid(-2) in float32, as the network computes it
    predictions = 12 * model.grid_size**2 * len(model.anchors)
    rate = sum(len(t["labels"]) for t in targets) / predictions  # every object finds an anchor in these scenes
    assert measured["cell_positive_rate"] == pytest.approx(rate, rel=1e-12)
    assert measured["cell_mean_probability"] == pytest.approx(p, rel=1e-6)
    assert measured["cell_ece"] == pytest.approx(abs(p - rate), rel=1e-6)
    assert measured["cell_brier"] == pytest.approx(rate * (1 - p) ** 2 + (1 - rate) * p**2, rel=1e-6)
    # sigmoid(-2) = 0.12 times a class probability near 1/3 stays under postprocess's threshold 0.05: nothing.
    assert all(measured[key] == -1 for key in CALIBRATION_KEYS if key.startswith("det_"))


def test_detection_calibration_counts_the_detections_predict_returns():
    rng = np.random.default_rng(2)
    images, targets = make_scenes(6, rng)
    model = constant_objectness(DenseDetector(3, rng), np.float32(3.0))  # sigmoid(3) / 3 > 0.05: detections
    measured = evaluate_calibration(model, images, targets, batch_size=4)
    scores, correct = detection_outcomes(model.predict(images), targets)
    assert len(scores) > 0
    assert measured["det_mean_score"] == pytest.approx(scores.mean())
    assert measured["det_precision"] == pytest.approx(correct.mean())
    assert measured["det_brier"] == pytest.approx(np.mean((scores - correct) ** 2))
