"""Write tests/golden/torchvision_boxes.json: what torchvision.ops returns for the box losses and for NMS.

The oracle for ``lossbook``'s box functions. Every case runs a ``torchvision.ops`` function on boxes
drawn from a seeded NumPy generator or written out by hand, and records:

* for ``distance_box_iou_loss``, ``complete_box_iou_loss`` and ``generalized_box_iou_loss``: the
  boxes, ``reduction`` and ``eps``, torchvision's value, and the autograd gradient of
  ``output.sum()`` with respect to ``boxes1`` (the convention of ``lossbook``'s ``_grad`` twins);
* for ``nms`` and ``batched_nms``: the boxes, scores, categories and threshold, and the kept indices.
  ``batched_nms`` is recorded twice over: torchvision's public function (below 1000 boxes on the CPU it
  offsets the boxes of each category, the "coordinate trick") and its per-category loop
  ``_batched_nms_vanilla``; the script stops if the two disagree.

Scores are distinct in every NMS case: with tied scores the order is torchvision's sort's, which
torchvision does not promise (its CPU kernel sorts stably; tests/test_boxes.py checks ties apart).
NaN is written as the string ``"nan"`` (JSON has none). Inputs are float64 unless a case says float32.

torch and torchvision are NOT dependencies of the course. Run this script in a separate virtual
environment, from the repository root::

    python3 -m venv /tmp/tvvenv
    /tmp/tvvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy==2.4.6
    /tmp/tvvenv/bin/python tools/torchvision_golden.py

The output is deterministic (fixed seed, one thread, sorted keys, no timestamps): two runs with the
same versions give the same bytes. tests/test_torchvision_parity.py checks ``lossbook`` against it.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.ops import (
    batched_nms,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
    nms,
)
from torchvision.ops.boxes import _batched_nms_vanilla

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from torch_golden import golden_header, write_golden  # noqa: E402  (one header for every golden file)

SEED = 20261203
OUTPUT = Path("tests/golden/torchvision_boxes.json")
COMMAND = "/tmp/tvvenv/bin/python tools/torchvision_golden.py"
LOSSES = {
    "distance_box_iou_loss": distance_box_iou_loss,
    "complete_box_iou_loss": complete_box_iou_loss,
    "generalized_box_iou_loss": generalized_box_iou_loss,
}


def encode(values):
    """Nested lists of numbers, NaN as the string "nan"."""
    if isinstance(values, list):
        return [encode(v) for v in values]
    if isinstance(values, float) and math.isnan(values):
        return "nan"
    return values


def random_boxes(rng, count, spread=3.0):
    centres = rng.uniform(0, spread, size=(count, 2))
    sizes = rng.uniform(0.2, 2.0, size=(count, 2))
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def loss_cases(rng):
    """(label, boxes1, boxes2, note) pairs of box sets on which every loss is recorded."""
    overlapping = random_boxes(rng, 12)
    partners = overlapping + rng.normal(0, 0.4, size=(12, 4))
    partners = np.concatenate([np.minimum(partners[:, :2], partners[:, 2:]),
                               np.maximum(partners[:, :2], partners[:, 2:])], axis=1)
    square = np.array([[1.0, 1.0, 3.0, 3.0], [0.5, 2.0, 1.5, 4.5]])
    return [
        ("seeded", overlapping, partners, "random pairs, most overlapping"),
        ("seeded-far", random_boxes(rng, 6), random_boxes(rng, 6) + np.array([5.0, 1.0, 5.0, 1.0]),
         "random pairs, disjoint"),
        ("identical", square, square.copy(), "every min and max ties: autograd gives half to each side"),
        ("disjoint", np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 2.0]]),
         np.array([[3.0, 0.5, 4.0, 1.5], [2.0, 3.0, 2.5, 3.5]]), None),
        ("touching", np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 1.0]]),
         np.array([[1.0, 0.0, 2.0, 1.0], [0.5, 1.0, 1.5, 2.0]]), "a shared edge: zero intersection, no mask"),
        ("nested", np.array([[0.0, 0.0, 4.0, 3.0], [1.2, 0.7, 1.9, 1.6]]),
         np.array([[0.5, 1.0, 2.0, 1.5], [0.0, 0.0, 3.0, 3.0]]), "one box inside the other, both ways"),
        ("equal-centre", np.array([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 2.0, 4.0]]),
         np.array([[1.0, -1.0, 3.0, 3.0], [0.5, 2.0, 2.5, 3.0]]), "centres coincide: DIoU = 1 - IoU"),
        ("zero-width", np.array([[1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 2.0, 2.0]]),
         np.array([[0.0, 0.0, 2.0, 2.0], [3.0, 1.0, 3.0, 1.5]]), "zero area, positive height"),
    ]


def record_loss(cases, function, label, boxes1, boxes2, kwargs, note):
    tensor1 = torch.from_numpy(boxes1.copy()).requires_grad_(True)
    out = LOSSES[function](tensor1, torch.from_numpy(boxes2.copy()), **kwargs)
    (grad,) = torch.autograd.grad(out.sum(), tensor1)
    case = {
        "id": "-".join([function, label, *(f"{k}-{v}" for k, v in sorted(kwargs.items()))]),
        "function": function,
        "boxes1": boxes1.tolist(),
        "boxes2": boxes2.tolist(),
        "dtype": str(boxes1.dtype),
        "kwargs": kwargs,
        "value": encode(out.detach().numpy().tolist()),
        "grad": encode(grad.numpy().tolist()),
    }
    if note:
        case["note"] = note
    cases.append(case)


def all_loss_cases(rng):
    cases = []
    for label, boxes1, boxes2, note in loss_cases(rng):
        for function in LOSSES:
            for reduction in ("none", "mean", "sum"):
                record_loss(cases, function, label, boxes1, boxes2, {"reduction": reduction}, note)
    seeded1, seeded2 = random_boxes(rng, 5), random_boxes(rng, 5)
    for function in LOSSES:
        record_loss(cases, function, "large-eps", seeded1, seeded2, {"eps": 0.25},
                    "CIoU: torchvision uses eps in alpha only; its DIoU part keeps the default 1e-7")
        point = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
        if function != "complete_box_iou_loss":  # CIoU of a point box is nan: atan(0 / 0)
            record_loss(cases, function, "points", point, np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]]),
                        {}, "boxes of zero width and height")
        record_loss(cases, function, "float32", seeded1.astype(np.float32), seeded2.astype(np.float32), {},
                    "float32 in, float32 out")
    zero_height = np.array([[0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0]])
    record_loss(cases, "complete_box_iou_loss", "zero-height", zero_height,
                np.array([[0.0, 0.0, 2.0, 2.0], [0.5, 0.5, 1.5, 1.0]]), {},
                "atan(w / 0) = pi / 2, but autograd's gradient is nan (0 * inf in d(w / h)); lossbook's is the limit")
    return cases


def clustered_scene(rng, count, classes):
    centres = rng.uniform(0, 20, size=(6, 2))[rng.integers(0, 6, size=count)] + rng.normal(0, 1.0, size=(count, 2))
    sizes = rng.uniform(1.0, 5.0, size=(count, 2))
    boxes = np.round(np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1), 2)  # short JSON
    scores = np.round(rng.uniform(0, 1, size=count), 9)
    assert len(np.unique(scores)) == count, "tied scores: draw again"
    return boxes, scores, rng.integers(0, classes, size=count)


def record_nms(cases, label, boxes, scores, idxs, threshold, note=None):
    tb, ts = torch.from_numpy(boxes.copy()), torch.from_numpy(scores.copy())
    case = {
        "id": f"{'nms' if idxs is None else 'batched_nms'}-{label}-{threshold}",
        "function": "nms" if idxs is None else "batched_nms",
        "boxes": boxes.tolist(),
        "dtype": str(boxes.dtype),
        "scores": scores.tolist(),
        "iou_threshold": threshold,
    }
    if idxs is None:
        case["keep"] = nms(tb, ts, threshold).tolist()
    else:
        ti = torch.from_numpy(idxs.copy())
        keep = batched_nms(tb, ts, ti, threshold)
        vanilla = _batched_nms_vanilla(tb, ts, ti, threshold)
        if not torch.equal(keep, vanilla):
            raise AssertionError(f"{label}: the coordinate trick and the per-category loop disagree")
        case.update({"idxs": idxs.tolist(), "keep": keep.tolist()})
    if note:
        case["note"] = note
    cases.append(case)


def all_nms_cases(rng):
    cases = []
    thresholds = (0.0, 0.3, 0.5, 0.7, 1.0)
    for size in (60, 200):
        boxes, scores, idxs = clustered_scene(rng, size, classes=3)
        for threshold in thresholds:
            record_nms(cases, f"seeded-{size}", boxes, scores, None, threshold)
            record_nms(cases, f"seeded-{size}", boxes, scores, idxs * 5 + 2, threshold)
    boxes, scores, idxs = clustered_scene(rng, 1001, classes=4)
    record_nms(cases, "seeded-1001", boxes, scores, idxs, 0.5,
               "above 1000 boxes torchvision's batched_nms loops over the categories instead of offsetting")
    hand = np.array([[0, 0, 2, 2], [0, 0, 2, 1.9], [5, 5, 6, 6], [1, 0, 3, 2]])
    for threshold in (0.3, 0.5, 1.0):
        record_nms(cases, "hand", hand, np.array([0.6, 0.9, 0.8, 0.7]), None, threshold)
    record_nms(cases, "hand", hand, np.array([0.6, 0.9, 0.8, 0.7]), np.array([0, 1, 0, 0]), 0.5)
    pair = np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0]])
    record_nms(cases, "iou-equals-threshold", pair, np.array([0.9, 0.8]), None, 1 / 3,
               "IoU 2 / 6 equals the threshold in float64: not greater, so kept")
    pair32, scores32 = pair.astype(np.float32), np.array([0.9, 0.8], np.float32)
    record_nms(cases, "iou-equals-threshold-float32", pair32, scores32, None, 1 / 3,
               "float32 boxes: IoU rounds to 0.33333334 > 1 / 3, so suppressed")
    record_nms(cases, "touching", np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]]), np.array([0.5, 0.6]),
               None, 0.0, "a shared edge has zero area: kept even at threshold 0")
    record_nms(cases, "identical", np.tile([[0.0, 0.0, 1.0, 1.0]], (3, 1)), np.array([0.2, 0.9, 0.4]), None, 0.99)
    record_nms(cases, "zero-area", np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]),
               np.array([0.9, 0.8, 0.7]), None, 0.0, "IoU of two points is 0 / 0 = nan, which suppresses nothing")
    record_nms(cases, "empty", np.zeros((0, 4)), np.zeros(0), None, 0.5)
    record_nms(cases, "empty", np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5)
    return cases


def dumps(document):
    """Sorted keys, one line per case (short diffs, small file)."""
    def line(value):
        return json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))

    items = []
    for key in sorted(document):
        value = document[key]
        if isinstance(value, list):
            value = "[\n" + ",\n".join("  " + line(case) for case in value) + "\n ]"
        else:
            value = line(value)
        items.append(f" {json.dumps(key)}: {value}")
    return "{\n" + ",\n".join(items) + "\n}"


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    document = {
        **golden_header(COMMAND, "torchvision.ops' box losses (value, and autograd gradient of output.sum() "
                                 "w.r.t. boxes1) and nms/batched_nms (kept indices); generated by "
                                 "tools/torchvision_golden.py, checked by tests/test_torchvision_parity.py. NaN is "
                                 "the string 'nan'.", torchvision),
        "seed": SEED,
        "losses": all_loss_cases(rng),
        "nms": all_nms_cases(rng),
    }
    ids = [case["id"] for case in document["losses"] + document["nms"]]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    write_golden(OUTPUT, dumps(document) + "\n",
                 f"{len(document['losses'])} loss cases and {len(document['nms'])} NMS cases")


if __name__ == "__main__":
    main()
