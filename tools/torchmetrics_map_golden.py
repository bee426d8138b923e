"""Write tests/golden/torchmetrics_map.json: what torchmetrics' MeanAveragePrecision returns on a few scenes.

A second oracle for :func:`lossbook.mean_average_precision`, beside pycocotools itself (which
tests/test_metrics.py runs directly): it pins down torchmetrics' side of the input format, the
conversion of ``(x1, y1, x2, y2)`` boxes to COCO's ``[x, y, w, h]``, the labels as category ids and
the key names. Every case calls ``torchmetrics.detection.MeanAveragePrecision(box_format="xyxy",
iou_type="bbox")`` (backend pycocotools, the default) and records:

* ``preds`` and ``targets``, the input (one dict of lists per image);
* ``value``, the twelve summary values torchmetrics returned (float32 tensors, stored as floats);
* ``torchmetrics``, the call, ``coco_thresholds`` (whether COCO's thresholds were passed, see below),
  and ``note``.

torchmetrics 1.9 builds its default thresholds with ``torch.linspace(...).tolist()``, in float32:
IoU 0.550000011920929 instead of 0.55, recall 0.07000000029802322 instead of 0.07. When a class's
recall lands exactly on a hundredth (7 of 100 objects), pycocotools' ``searchsorted`` then reads the
precision one detection later, and torchmetrics' defaults differ from pycocotools. So every case is
computed with COCO's float64 thresholds passed explicitly (``iou_thresholds=np.linspace(0.5, 0.95,
10).tolist()``, ``rec_thresholds=np.linspace(0, 1, 101).tolist()``), which lossbook must equal, and
the random scene once more with torchmetrics' defaults, to record the keys where they differ.

The boxes lie on a grid of 1/8 pixel and the scores are float32 numbers, so that torchmetrics'
float32 tensors and lossbook's float64 arithmetic see the same boxes, the same areas and the same
order of scores. The cases: torchmetrics' own docstring example (one large box), a two-image example
with a false positive above a true positive, and a seeded random scene of 30 images with several
classes, empty images, images without detections, a class without ground truth and jittered copies
of the objects as detections.

Neither torch nor torchmetrics is a dependency of the course. Run this script in a separate virtual
environment, from the repository root::

    python3 -m venv /tmp/tvvenv
    /tmp/tvvenv/bin/pip install torch==2.14.1 torchmetrics==1.9.0 pycocotools==2.0.11 numpy==2.4.6
    /tmp/tvvenv/bin/python tools/torchmetrics_map_golden.py

The output is deterministic: fixed seed, one thread, sorted keys, no timestamps.
tests/test_metrics.py checks lossbook against it.
"""

import contextlib
import io
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
import torchmetrics
from torchmetrics.detection import MeanAveragePrecision

SEED = 20261203
OUTPUT = Path("tests/golden/torchmetrics_map.json")
COMMAND = "/tmp/tvvenv/bin/python tools/torchmetrics_map_golden.py"
COCO_IOU = np.linspace(0.5, 0.95, 10).tolist()
COCO_RECALL = np.linspace(0.0, 1.0, 101).tolist()
KEYS = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100",
        "mar_small", "mar_medium", "mar_large")


def on_grid(boxes):
    """Boxes rounded to 1/8 pixel, so that float32 holds them, their widths and their areas exactly."""
    return np.round(np.asarray(boxes, dtype=np.float64) * 8) / 8


def random_scene(rng, num_images=30, num_classes=3):
    preds, targets = [], []
    for image in range(num_images):
        num_objects = int(rng.integers(0, 5)) if image % 7 else 0  # every seventh image is empty
        centres = rng.uniform(4, 60, size=(num_objects, 2))
        sides = rng.uniform(3, 40, size=(num_objects, 2))
        truths = on_grid(np.concatenate([centres - sides / 2, centres + sides / 2], axis=1))
        truth_labels = rng.integers(0, num_classes, num_objects)
        found = np.flatnonzero(rng.random(num_objects) < 0.8)
        jittered = truths[found] + rng.normal(0, 1.5, size=(len(found), 4))
        jittered = np.concatenate([np.minimum(jittered[:, :2], jittered[:, 2:]),
                                   np.maximum(jittered[:, :2], jittered[:, 2:])], axis=1)
        num_false = int(rng.integers(0, 4))
        false_corner = rng.uniform(0, 50, size=(num_false, 2))
        false_boxes = np.concatenate([false_corner, false_corner + rng.uniform(3, 20, size=(num_false, 2))], axis=1)
        boxes = on_grid(np.concatenate([jittered, false_boxes]))
        labels = np.concatenate([truth_labels[found], rng.integers(0, num_classes + 1, num_false)])  # class 3: no truth
        scores = np.concatenate([rng.uniform(0.4, 1.0, len(found)), rng.uniform(0.0, 0.7, num_false)])
        if image % 5 == 4:  # no detections
            boxes, labels, scores = boxes[:0], labels[:0], scores[:0]
        preds.append({"boxes": boxes.tolist(), "scores": scores.astype(np.float32).astype(float).tolist(),
                      "labels": labels.tolist()})
        targets.append({"boxes": truths.tolist(), "labels": truth_labels.tolist()})
    return preds, targets


def torchmetrics_map(preds, targets, coco_thresholds):
    if coco_thresholds:
        metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=COCO_IOU,
                                      rec_thresholds=COCO_RECALL)
    else:
        metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")
    as_tensors = [
        {"boxes": torch.tensor(p["boxes"], dtype=torch.float32).reshape(-1, 4),
         "scores": torch.tensor(p["scores"], dtype=torch.float32),
         "labels": torch.tensor(p["labels"], dtype=torch.int64)}
        for p in preds
    ]
    truths = [{"boxes": torch.tensor(t["boxes"], dtype=torch.float32).reshape(-1, 4),
               "labels": torch.tensor(t["labels"], dtype=torch.int64)} for t in targets]
    metric.update(as_tensors, truths)
    with contextlib.redirect_stdout(io.StringIO()):
        result = metric.compute()
    return {key: float(result[key]) for key in KEYS}


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    cases = []

    def record(case_id, preds, targets, note, coco_thresholds=True):
        options = ", iou_thresholds=COCO_IOU, rec_thresholds=COCO_RECALL" if coco_thresholds else ""
        cases.append({"id": case_id, "preds": preds, "targets": targets, "coco_thresholds": coco_thresholds,
                      "value": torchmetrics_map(preds, targets, coco_thresholds), "note": note,
                      "torchmetrics": f'MeanAveragePrecision(box_format="xyxy", iou_type="bbox"{options})'})

    record(
        "torchmetrics-docstring",
        [{"boxes": [[258.0, 41.0, 606.0, 285.0]], "scores": [0.536], "labels": [0]}],
        [{"boxes": [[214.0, 41.0, 562.0, 285.0]], "labels": [0]}],
        "the example of torchmetrics' documentation: one large box at IoU 0.76",
    )
    record(
        "false-positive-above",
        [{"boxes": [[10, 10, 20, 20], [0, 0, 5, 5]], "scores": [0.9, 0.95], "labels": [0, 0]},
         {"boxes": [[40, 30, 60, 50]], "scores": [0.8], "labels": [1]}],
        [{"boxes": [[10, 10, 20, 20]], "labels": [0]}, {"boxes": [[30, 30, 50, 50]], "labels": [1]}],
        "lossbook's docstring example: AP 1/2 for class 0, 0 for class 1",
    )
    preds, targets = random_scene(rng)
    record("random-scene", preds, targets,
           "30 images of 64 x 64, classes 0-2 with truth, class 3 without; empty images, images without detections")
    record("random-scene-torchmetrics-thresholds", preds, targets,
           "torchmetrics' default float32 thresholds: differs from pycocotools where a recall is a whole hundredth",
           coco_thresholds=False)

    payload = {
        "command": COMMAND,
        "seed": SEED,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchmetrics": torchmetrics.__version__, "pycocotools": version("pycocotools"),
                     "numpy": np.__version__},
        "machine": platform.machine(),
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(cases)} cases to {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
