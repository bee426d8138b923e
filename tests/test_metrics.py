"""COCO mean average precision: every key equal to pycocotools' COCOeval on random scenes, hand-computed cases,
input errors, invariances.

The oracles:

* pycocotools 2.0.11 (``COCOeval(iouType="bbox")``), run here, fed the same boxes as COCO json
  (``[x, y, w, h]``, area ``w * h``), with its prints silenced;
* torchmetrics 1.9.0's ``MeanAveragePrecision``: ``tests/golden/torchmetrics_map.json``, written by
  ``tools/torchmetrics_map_golden.py`` (torch and torchmetrics are not dependencies of the course).
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lossbook import mean_average_precision
from lossbook.metrics import (
    COCO_RECALL_THRESHOLDS,
    interpolated_precision,
    match_detections,
    precision_recall_curve,
)

GOLDEN = json.loads((Path(__file__).parent / "golden" / "torchmetrics_map.json").read_text())
SIZE_KEYS = ("small", "medium", "large")  # the names pycocotools' summarize() reads
SCENE_AREAS = {"small": (0, 12**2), "medium": (12**2, 32**2), "large": (32**2, np.inf)}


def coco_reference(preds, targets, iou_thresholds=None, max_detections=100, area_ranges=None):
    """pycocotools' summary, under lossbook's key names."""
    categories = sorted({int(label) for entry in preds + targets for label in np.asarray(entry["labels"]).ravel()})
    truths = []
    for image, target in enumerate(targets):
        for box, label in zip(np.asarray(target["boxes"], float).reshape(-1, 4), target["labels"], strict=True):
            width, height = box[2] - box[0], box[3] - box[1]
            truths.append({"id": len(truths) + 1, "image_id": image, "category_id": int(label),
                           "bbox": [box[0], box[1], width, height], "area": width * height, "iscrowd": 0})
    detections = [
        {"image_id": image, "category_id": int(label), "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
         "score": float(score)}
        for image, pred in enumerate(preds)
        for box, score, label in zip(np.asarray(pred["boxes"], float).reshape(-1, 4), pred["scores"], pred["labels"],
                                     strict=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = {"images": [{"id": i} for i in range(len(targets))], "annotations": truths,
                                "categories": [{"id": c} for c in categories]}
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), iouType="bbox")
        if iou_thresholds is not None:
            evaluation.params.iouThrs = np.asarray(iou_thresholds, dtype=float)
        evaluation.params.maxDets = [1, 10, max_detections]
        if area_ranges is not None:
            evaluation.params.areaRng = [[0, 1e5**2]] + [list(area_ranges[name]) for name in SIZE_KEYS]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    names = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10",
             f"mar_{max_detections}", "mar_small", "mar_medium", "mar_large"]
    stats = dict(zip(names, evaluation.stats.tolist(), strict=True))
    if max_detections != 100:  # summarize() reads "map" at maxDets=100 whatever maxDets holds: read it ourselves
        precision = evaluation.eval["precision"][:, :, :, 0, -1]
        stats["map"] = float(np.mean(precision[precision > -1])) if np.any(precision > -1) else -1.0
    return stats


def random_boxes(rng, count, image_size=64.0):
    """Boxes of 2 px up to the image side (log-uniform sides), centred anywhere in the image."""
    centres = rng.uniform(0, image_size, size=(count, 2))
    sides = np.exp(rng.uniform(np.log(2), np.log(image_size), size=(count, 2)))
    return np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)


def random_scene(rng, num_images=25, num_classes=3, max_false=8, min_false=0, tied_scores=False):
    """Images with 0 to 5 objects of `num_classes` classes and detections of every kind.

    Detections: jittered copies of about 80% of the objects (the rest are missed), now and then a
    duplicate or a wrong class, false positives anywhere (including class `num_classes`, which has no
    ground truth), some images without detections, some without objects; `tied_scores` rounds scores
    to one decimal, so that COCO's stable order of ties is exercised.
    """
    preds, targets = [], []
    for _ in range(num_images):
        num_objects = int(rng.integers(0, 6))
        truth_boxes, truth_labels = random_boxes(rng, num_objects), rng.integers(0, num_classes, num_objects)
        found = np.flatnonzero(rng.random(num_objects) < 0.8)
        found = np.concatenate([found, found[rng.random(len(found)) < 0.2]])  # duplicates
        sides = np.repeat(truth_boxes[found, 2:] - truth_boxes[found, :2], 2, axis=0).reshape(-1, 4)
        jittered = truth_boxes[found] + rng.normal(0, 0.08, size=(len(found), 4)) * sides
        jittered = np.concatenate([np.minimum(jittered[:, :2], jittered[:, 2:]),
                                   np.maximum(jittered[:, :2], jittered[:, 2:])], axis=1)
        labels = np.where(rng.random(len(found)) < 0.9, truth_labels[found], rng.integers(0, num_classes + 1))
        num_false = int(rng.integers(min_false, max_false + 1))
        boxes = np.concatenate([jittered, random_boxes(rng, num_false)])
        labels = np.concatenate([labels, rng.integers(0, num_classes + 1, num_false)])
        scores = np.concatenate([rng.uniform(0.3, 1.0, len(found)), rng.uniform(0.0, 0.8, num_false)])
        if tied_scores:
            scores = np.round(scores, 1)
        if rng.random() < 0.1:  # an image without detections
            boxes, labels, scores = boxes[:0], labels[:0], scores[:0]
        order = rng.permutation(len(boxes))
        preds.append({"boxes": boxes[order], "scores": scores[order], "labels": labels[order]})
        targets.append({"boxes": truth_boxes, "labels": truth_labels})
    return preds, targets


SCENES = {
    "few detections": {"max_false": 8},
    "over 100 detections per image and class": {"min_false": 250, "max_false": 300, "num_images": 6, "num_classes": 1},
    "tied scores": {"max_false": 12, "tied_scores": True},
    "one class": {"num_classes": 1},
}
OPTIONS = {
    "COCO defaults": {},
    "scene-sized areas": {"area_ranges": SCENE_AREAS},
    "own thresholds": {"iou_thresholds": [0.3, 0.5, 0.9]},
    "max_detections 12": {"max_detections": 12},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("scene", SCENES.values(), ids=SCENES.keys())
@pytest.mark.parametrize("seed", range(3))
def test_equals_pycocotools(seed, scene, options):
    preds, targets = random_scene(np.random.default_rng(seed), **scene)
    ours = mean_average_precision(preds, targets, **options)
    reference = coco_reference(preds, targets, **options)
    assert set(reference) <= set(ours)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12, rel=0), key
    assert all(type(value) is float for value in ours.values())
    assert ours["map_50"] > 0  # the scenes are not degenerate: something is found


def test_the_crowded_scene_exceeds_100_detections_of_a_class_in_an_image():
    preds, _ = random_scene(np.random.default_rng(0), **SCENES["over 100 detections per image and class"])
    assert max(np.bincount(pred["labels"]).max() for pred in preds if len(pred["labels"])) > 100


def test_scene_sized_areas_change_the_size_keys_only(rng):
    preds, targets = random_scene(rng)
    coco = mean_average_precision(preds, targets)
    scene = mean_average_precision(preds, targets, area_ranges=SCENE_AREAS)
    assert coco["map_large"] == -1 and coco["mar_large"] == -1  # COCO's large starts at 96**2, beyond a 64**2 image
    assert min(scene[f"map_{size}"] for size in SCENE_AREAS) >= 0
    assert {key: coco[key] for key in ("map", "map_50", "map_75", "mar_100")} == {
        key: scene[key] for key in ("map", "map_50", "map_75", "mar_100")
    }


@st.composite
def grid_boxes(draw, max_count):
    """Boxes with integer corners on a 9 x 9 grid: exact IoU ties, IoU exactly at thresholds, zero areas."""
    corners = draw(st.lists(st.tuples(*[st.integers(0, 8)] * 4), max_size=max_count))
    return [[min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)] for x1, y1, x2, y2 in corners]


@st.composite
def grid_scene(draw):
    """1 to 4 images, 2 classes, scores from five values (ties everywhere)."""
    preds, targets = [], []
    for _ in range(draw(st.integers(1, 4))):
        truths, boxes = draw(grid_boxes(4)), draw(grid_boxes(6))
        targets.append({"boxes": truths, "labels": draw(st.lists(st.integers(0, 1), min_size=len(truths),
                                                                 max_size=len(truths)))})
        preds.append({"boxes": boxes,
                      "scores": draw(st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.4, 0.5]), min_size=len(boxes),
                                              max_size=len(boxes))),
                      "labels": draw(st.lists(st.integers(0, 1), min_size=len(boxes), max_size=len(boxes)))})
    return preds, targets


@given(grid_scene())
def test_equals_pycocotools_on_integer_grids_full_of_ties(scene):
    preds, targets = scene
    assume(any(pred["boxes"] for pred in preds))  # pycocotools' loadRes cannot load an empty list
    areas = {"small": (0, 4), "medium": (4, 16), "large": (16, np.inf)}  # boundaries that grid areas hit
    ours = mean_average_precision(preds, targets, area_ranges=areas)
    reference = coco_reference(preds, targets, area_ranges=areas)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12, rel=0), key


@pytest.mark.parametrize("case", [case for case in GOLDEN["cases"] if case["coco_thresholds"]],
                         ids=lambda case: case["id"])
def test_equals_torchmetrics_with_coco_thresholds(case):
    ours = mean_average_precision(case["preds"], case["targets"])
    for key, value in case["value"].items():
        assert ours[key] == pytest.approx(value, rel=1e-7, abs=1e-7), key  # torchmetrics returns float32


def test_torchmetrics_default_thresholds_are_float32_and_move_map_small():
    # torch.linspace(0, 1, 101) in float32 puts recall 0.07 at 0.07000000029802322: a recall of exactly k/100
    # then reads the precision one detection later than COCO (see tools/torchmetrics_map_golden.py).
    case = next(case for case in GOLDEN["cases"] if not case["coco_thresholds"])
    ours = mean_average_precision(case["preds"], case["targets"])
    differing = {key for key, value in case["value"].items() if abs(ours[key] - value) > 1e-6}
    assert differing == {"map_small"}


def test_zero_area_boxes_and_empty_inputs_equal_pycocotools():
    preds = [
        {"boxes": [[5, 5, 5, 9], [0, 0, 10, 10], [2, 2, 2, 2]], "scores": [0.9, 0.8, 0.7], "labels": [0, 0, 1]},
        {"boxes": np.zeros((0, 4)), "scores": [], "labels": []},
        {"boxes": [[1, 1, 3, 3]], "scores": [0.5], "labels": [2]},
    ]
    targets = [
        {"boxes": [[0, 0, 10, 10], [2, 2, 2, 2]], "labels": [0, 1]},
        {"boxes": [[4, 4, 8, 8]], "labels": [1]},
        {"boxes": [], "labels": []},
    ]
    ours, reference = mean_average_precision(preds, targets), coco_reference(preds, targets)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(value, abs=1e-12, rel=0), key


# ----------------------------------------------------------------------------------------------
# Cases computed by hand


def one_image(detections, truths):
    """One image of class 0: detections as (box, score), truths as boxes."""
    boxes = [box for box, _ in detections]
    return ([{"boxes": boxes, "scores": [score for _, score in detections], "labels": [0] * len(boxes)}],
            [{"boxes": truths, "labels": [0] * len(truths)}])


# COCO's precision TP / (TP + FP + np.spacing(1)) stays about 2e-16 below 1: the cases compare to 1e-12.
EXACT = 1e-12


def test_one_perfect_detection_scores_one():
    result = mean_average_precision(*one_image([([4, 4, 20, 12], 0.7)], [[4, 4, 20, 12]]))
    expected = {"map": 1.0, "map_50": 1.0, "map_75": 1.0, "map_small": 1.0, "map_medium": -1.0, "map_large": -1.0,
                "mar_1": 1.0, "mar_10": 1.0, "mar_100": 1.0, "mar_small": 1.0, "mar_medium": -1.0, "mar_large": -1.0}
    assert result == pytest.approx(expected, abs=EXACT)


def test_a_false_positive_above_the_true_positive_halves_ap():
    # Precision 0 then 1/2 at recall 0 then 1: the envelope is 1/2 at every recall.
    result = mean_average_precision(*one_image([([30, 30, 40, 40], 0.9), ([0, 0, 10, 10], 0.8)], [[0, 0, 10, 10]]))
    assert result["map"] == pytest.approx(0.5, abs=EXACT) and result["mar_100"] == 1.0
    assert result["mar_1"] == 0.0  # the best-scored detection alone finds nothing


def test_two_objects_with_a_false_positive_between_them():
    # Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: recalls 0 to 0.50 (51 of them) read 1, the other 50 read 2/3.
    truths = [[0, 0, 10, 10], [20, 20, 30, 30]]
    detections = [([0, 0, 10, 10], 0.9), ([40, 40, 50, 50], 0.8), ([20, 20, 30, 30], 0.7)]
    result = mean_average_precision(*one_image(detections, truths))
    assert result["map"] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=EXACT)


def test_iou_exactly_at_the_threshold_matches():
    # [0, 0, 10, 10] against [0, 0, 10, 5]: IoU 50 / 100 = 0.5 exactly (integers), a match at 0.5 and not above.
    result = mean_average_precision(*one_image([([0, 0, 10, 5], 0.9)], [[0, 0, 10, 10]]))
    assert result["map_50"] == pytest.approx(1.0, abs=EXACT) and result["map_75"] == 0.0
    assert result["map"] == pytest.approx(0.1, abs=EXACT)


def test_second_detection_of_an_object_is_a_false_positive():
    # Precision 1 then 1/2 at recall 1 and 1: the envelope is 1 (the duplicate comes after full recall).
    result = mean_average_precision(*one_image([([0, 0, 10, 10], 0.9), ([0, 0, 10, 10], 0.8)], [[0, 0, 10, 10]]))
    assert result["map"] == pytest.approx(1.0, abs=EXACT)
    reversed_duplicate = one_image([([1, 0, 10, 10], 0.9), ([0, 0, 10, 10], 0.8)], [[0, 0, 10, 10]])
    # At IoU 0.95 the first (IoU 0.9) misses and the second matches: AP 1/2 there, 1 at the other nine thresholds.
    assert mean_average_precision(*reversed_duplicate)["map"] == pytest.approx(0.95, abs=EXACT)


def test_max_detections_is_per_image_and_class():
    # The true positive is the 11th best of its class; 200 detections of class 1 do not push it out.
    detections = [([50, 50, 60, 60], 0.9 - 0.01 * i) for i in range(10)] + [([0, 0, 10, 10], 0.5)]
    preds, targets = one_image(detections, [[0, 0, 10, 10]])
    preds[0]["boxes"] += [[30, 0, 40, 10]] * 200
    preds[0]["scores"] += [0.99] * 200
    preds[0]["labels"] += [1] * 200
    assert mean_average_precision(preds, targets, max_detections=10)["map"] == 0.0
    result = mean_average_precision(preds, targets, max_detections=11)
    assert result["map"] == pytest.approx(1 / 11, abs=EXACT) and result["mar_10"] == 0.0 and result["mar_11"] == 1.0


def test_an_area_on_a_boundary_belongs_to_both_ranges():
    # 12 x 12 = 144 = 12**2 ends "small" and starts "medium": COCO includes both ends.
    preds, targets = one_image([([0, 0, 12, 12], 0.9), ([20, 20, 40, 30], 0.8)], [[0, 0, 12, 12]])
    result = mean_average_precision(preds, targets, area_ranges=SCENE_AREAS)
    assert result["map_small"] == pytest.approx(1.0, abs=EXACT)
    assert result["map_medium"] == pytest.approx(1.0, abs=EXACT)
    assert result["map_large"] == -1.0
    reference = coco_reference(preds, targets, area_ranges=SCENE_AREAS)
    assert result == pytest.approx(reference, abs=1e-12)


def test_classes_without_ground_truth_cost_nothing():
    preds, targets = one_image([([0, 0, 10, 10], 0.9)], [[0, 0, 10, 10]])
    preds[0]["boxes"].append([20, 20, 30, 30])
    preds[0]["scores"].append(0.99)
    preds[0]["labels"].append(7)  # a class that never appears in the targets
    assert mean_average_precision(preds, targets)["map"] == pytest.approx(1.0, abs=EXACT)


def test_no_ground_truth_at_all_gives_minus_one_and_no_detections_gives_zero():
    empty = mean_average_precision([{"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [0]}],
                                   [{"boxes": [], "labels": []}])
    assert set(empty.values()) == {-1.0}
    missed = mean_average_precision([{"boxes": [], "scores": [], "labels": []}],
                                    [{"boxes": [[0, 0, 4, 4]], "labels": [0]}])
    assert missed["map"] == 0.0 and missed["mar_100"] == 0.0 and missed["map_large"] == -1.0


def test_thresholds_without_0_5_report_map_50_as_minus_one():
    result = mean_average_precision(*one_image([([0, 0, 10, 10], 0.9)], [[0, 0, 10, 10]]), iou_thresholds=[0.6, 0.7])
    assert result["map"] == pytest.approx(1.0, abs=EXACT) and result["map_50"] == -1.0 and result["map_75"] == -1.0


# ----------------------------------------------------------------------------------------------
# The steps, one by one


def test_match_detections_prefers_the_best_free_box_and_a_regular_box_over_an_ignored_one():
    iou = np.array([[0.6, 0.9, 0.7], [0.6, 0.9, 0.7], [0.8, 0.8, 0.1]])
    np.testing.assert_array_equal(match_detections(iou, 0.5), [1, 2, 0])
    np.testing.assert_array_equal(match_detections(iou, 0.75), [1, -1, 0])
    # Box 1 ignored: the first detection takes the regular box 2 (IoU 0.7) although box 1 overlaps more.
    np.testing.assert_array_equal(match_detections(iou, 0.5, gt_ignore=[False, True, False]), [2, 0, 1])
    # A tie between two free boxes goes to the last one, as in pycocotools.
    np.testing.assert_array_equal(match_detections([[0.8, 0.8]], 0.5), [1])


def test_precision_recall_curve_and_interpolation_by_hand():
    precision, recall, scores = precision_recall_curve([0.2, 0.9, 0.5, 0.7], [True, True, False, True],
                                                       [False, False, True, False], 4)
    np.testing.assert_array_equal(scores, [0.9, 0.7, 0.5, 0.2])
    np.testing.assert_allclose(recall, [0.25, 0.5, 0.5, 0.75])
    np.testing.assert_allclose(precision, [1, 1, 2 / 3, 3 / 4])
    sampled = interpolated_precision(precision, recall)
    expected = np.where(COCO_RECALL_THRESHOLDS <= 0.5, 1.0, np.where(COCO_RECALL_THRESHOLDS <= 0.75, 0.75, 0.0))
    np.testing.assert_allclose(sampled, expected)


def test_curves_give_each_class_ap_whose_mean_is_map(rng):
    preds, targets = random_scene(rng)
    result = mean_average_precision(preds, targets, return_curves=True)
    curves = result["curves"]
    assert sorted(curves) == sorted({int(label) for target in targets for label in target["labels"]})
    assert np.mean([curve["ap"] for curve in curves.values()]) == pytest.approx(result["map"], abs=1e-12)
    for curve in curves.values():
        assert curve["precision"].shape == curve["recall"].shape == (10, len(curve["scores"]))
        assert np.all(np.diff(curve["scores"]) <= 0) and np.all(np.diff(curve["recall"], axis=1) >= 0)
        np.testing.assert_allclose(curve["recall"][:, -1] * curve["num_ground_truth"],
                                   np.round(curve["recall"][:, -1] * curve["num_ground_truth"]))


# ----------------------------------------------------------------------------------------------
# Invariances


def distinct_scores(preds, rng):
    total = sum(len(pred["scores"]) for pred in preds)
    scores, start = rng.permutation(total) / total, 0
    for pred in preds:
        pred["scores"] = scores[start:start + len(pred["scores"])]
        start += len(pred["scores"])
    return preds


def test_permuting_images_or_detections_changes_nothing(rng):
    preds, targets = random_scene(rng)
    preds = distinct_scores(preds, rng)  # at tied scores the order of the input is COCO's tie-break
    result = mean_average_precision(preds, targets, area_ranges=SCENE_AREAS)
    order = rng.permutation(len(preds))
    shuffled = mean_average_precision([preds[i] for i in order], [targets[i] for i in order], area_ranges=SCENE_AREAS)
    assert shuffled == pytest.approx(result, abs=1e-15)
    within = []
    for pred in preds:
        permutation = rng.permutation(len(pred["scores"]))
        within.append({key: np.asarray(value)[permutation] for key, value in pred.items()})
    assert mean_average_precision(within, targets, area_ranges=SCENE_AREAS) == pytest.approx(result, abs=1e-15)


def test_float32_and_integer_inputs_give_the_float64_result(rng):
    preds, targets = random_scene(rng)
    rounded = [{**pred, "boxes": np.round(pred["boxes"])} for pred in preds]
    rounded = [{**pred, "boxes": np.c_[pred["boxes"][:, :2], np.maximum(pred["boxes"][:, 2:], pred["boxes"][:, :2])]}
               for pred in rounded]
    result = mean_average_precision(rounded, targets)
    as_int = [{**pred, "boxes": pred["boxes"].astype(np.int64), "labels": pred["labels"].astype(np.int32)}
              for pred in rounded]
    as_float32 = [{**pred, "boxes": pred["boxes"].astype(np.float32)} for pred in rounded]
    assert mean_average_precision(as_int, targets) == result
    assert mean_average_precision(as_float32, targets) == result


# ----------------------------------------------------------------------------------------------
# Input errors


GOOD_PRED = {"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [0]}
GOOD_TARGET = {"boxes": [[0, 0, 1, 1]], "labels": [0]}


@pytest.mark.parametrize(
    ("preds", "targets", "kwargs", "error", "message"),
    [
        (GOOD_PRED, [GOOD_TARGET], {}, TypeError, "preds must be a list with one dict per image"),
        ([GOOD_PRED], [GOOD_TARGET, GOOD_TARGET], {}, ValueError, "one entry per image each; got 1 and 2"),
        ([[0, 0, 1, 1]], [GOOD_TARGET], {}, TypeError, r"preds\[0\] must be a dict"),
        ([{"boxes": [[0, 0, 1, 1]], "labels": [0]}], [GOOD_TARGET], {}, ValueError, r"missing \['scores'\]"),
        ([GOOD_PRED], [{"boxes": [[0, 0, 1, 1]]}], {}, ValueError, r"targets\[0\] must have the keys"),
        ([{**GOOD_PRED, "boxes": [[0, 0, 1]]}], [GOOD_TARGET], {}, ValueError, r"preds\[0\]\['boxes'\] must have"),
        ([GOOD_PRED], [{**GOOD_TARGET, "boxes": [[2, 0, 1, 1]]}], {}, ValueError, r"x1 <= x2 and y1 <= y2; row 0"),
        ([{**GOOD_PRED, "boxes": [[0, 0, np.nan, 1]]}], [GOOD_TARGET], {}, ValueError, "must be finite"),
        ([{**GOOD_PRED, "scores": [np.inf]}], [GOOD_TARGET], {}, ValueError, r"preds\[0\]\['scores'\] must be finite"),
        ([{**GOOD_PRED, "scores": [0.5, 0.4]}], [GOOD_TARGET], {}, ValueError, r"must have shape \(1,\), one per box"),
        ([{**GOOD_PRED, "labels": [0.5]}], [GOOD_TARGET], {}, TypeError, "integer class labels"),
        ([GOOD_PRED], [{**GOOD_TARGET, "labels": [0, 1]}], {}, ValueError, r"targets\[0\]\['labels'\] must have shape"),
        ([{**GOOD_PRED, "scores": ["a"]}], [GOOD_TARGET], {}, TypeError, "must hold real numbers"),
        ([GOOD_PRED], [{**GOOD_TARGET, "iscrowd": [1]}], {}, ValueError, "crowd regions are not supported"),
        ([GOOD_PRED], [{**GOOD_TARGET, "area": [1.0]}], {}, ValueError, "areas are computed from the boxes"),
        ([GOOD_PRED], [GOOD_TARGET], {"iou_thresholds": [0.5, 1.5]}, ValueError, r"iou_thresholds must lie in"),
        ([GOOD_PRED], [GOOD_TARGET], {"iou_thresholds": []}, ValueError, "iou_thresholds must be a non-empty"),
        ([GOOD_PRED], [GOOD_TARGET], {"max_detections": 5}, ValueError, "max_detections must be at least 10"),
        ([GOOD_PRED], [GOOD_TARGET], {"max_detections": 10.0}, TypeError, "max_detections must be an integer"),
        ([GOOD_PRED], [GOOD_TARGET], {"area_ranges": {"all": (0, 1)}}, ValueError, "other than 'all'"),
        ([GOOD_PRED], [GOOD_TARGET], {"area_ranges": {"tiny": (5, 1)}}, ValueError, "low <= high"),
        ([GOOD_PRED], [GOOD_TARGET], {"area_ranges": {"tiny": (-1, 1)}}, ValueError, r"area_ranges\['tiny'\]\[0\]"),
        ([GOOD_PRED], [GOOD_TARGET], {"area_ranges": [(0, 1)]}, TypeError, "area_ranges must be a non-empty dict"),
    ],
)
def test_bad_input_is_refused_with_the_argument_named(preds, targets, kwargs, error, message):
    with pytest.raises(error, match=message):
        mean_average_precision(preds, targets, **kwargs)
