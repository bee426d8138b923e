"""lossbook's box functions against golden values computed by real torchvision.

The oracle is ``tests/golden/torchvision_boxes.json``, written by ``tools/torchvision_golden.py``
with torch 2.14.1 and torchvision 0.29.1 (CPU). For ``distance_box_iou_loss``,
``complete_box_iou_loss`` and ``generalized_box_iou_loss`` it records the value and the autograd
gradient of ``output.sum()`` with respect to ``boxes1``, which is what lossbook's ``_grad`` twin
returns, on seeded boxes and on the edge cases (identical, disjoint, touching, nested, equal centres,
zero area, every reduction, a large ``eps``, float32). For ``nms`` and ``batched_nms`` it records the
kept indices on seeded clustered boxes at thresholds 0, 0.3, 0.5, 0.7 and 1, and on hand cases.

torch and torchvision are not dependencies of the course; these tests read the JSON only. To
regenerate it, from the repository root::

    python3 -m venv /tmp/tvvenv
    /tmp/tvvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy==2.4.6
    /tmp/tvvenv/bin/python tools/torchvision_golden.py

Tolerances in float64: values to ``rtol=1e-12``; gradients to ``rtol=1e-12`` with ``atol=1e-15``,
because a few components cancel down to the size of ``eps`` (about 1e-7 for identical or touching
boxes), where the two libraries' different order of operations leaves a rounding difference of
about 1e-16. float32: ``rtol=1e-5``. Kept indices must be equal, dtype int64 included.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import lossbook

DOCUMENT = json.loads((Path(__file__).parent / "golden" / "torchvision_boxes.json").read_text())


def decode(values):
    if isinstance(values, list):
        return [decode(v) for v in values]
    return np.nan if values == "nan" else values


def tolerances(dtype, grad=False):
    if dtype == "float32":
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-12, "atol": 1e-15 if grad else 0.0}


@pytest.mark.parametrize("case", DOCUMENT["losses"], ids=lambda case: case["id"])
def test_box_loss_matches_torchvision(case):
    boxes1 = np.array(case["boxes1"], dtype=case["dtype"]).reshape(-1, 4)
    boxes2 = np.array(case["boxes2"], dtype=case["dtype"]).reshape(-1, 4)
    loss = getattr(lossbook, case["function"])
    grad = getattr(lossbook, case["function"] + "_grad")
    value = loss(boxes1, boxes2, **case["kwargs"])
    assert value.dtype == np.dtype(case["dtype"])
    np.testing.assert_allclose(value, decode(case["value"]), **tolerances(case["dtype"]))

    ours, theirs = grad(boxes1, boxes2, **case["kwargs"]), np.array(decode(case["grad"]))
    assert ours.shape == theirs.shape and ours.dtype == np.dtype(case["dtype"])
    undefined = np.isnan(theirs)
    if case["id"] == "complete_box_iou_loss-zero-height":
        # torchvision's autograd meets 0 * inf in d(w / h) at h = 0; lossbook returns the finite limit.
        assert undefined[0].all() and not undefined[1:].any() and np.isfinite(ours).all()
    else:
        assert not undefined.any()
    np.testing.assert_allclose(ours[~undefined], theirs[~undefined], **tolerances(case["dtype"], grad=True))


@pytest.mark.parametrize("case", DOCUMENT["nms"], ids=lambda case: case["id"])
def test_nms_matches_torchvision(case):
    boxes = np.array(case["boxes"], dtype=case["dtype"]).reshape(-1, 4)
    scores = np.array(case["scores"], dtype=case["dtype"])
    if case["function"] == "nms":
        keep = lossbook.nms(boxes, scores, case["iou_threshold"])
    else:
        idxs = np.array(case["idxs"], dtype=np.int64)
        keep = lossbook.batched_nms(boxes, scores, idxs, case["iou_threshold"])
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, case["keep"])


def test_the_golden_file_covers_what_it_claims():
    loss_ids = {case["id"] for case in DOCUMENT["losses"]}
    for function in ("distance_box_iou_loss", "complete_box_iou_loss", "generalized_box_iou_loss"):
        for label in ("seeded", "identical", "disjoint", "touching", "nested", "equal-centre", "zero-width"):
            assert {f"{function}-{label}-reduction-{r}" for r in ("none", "mean", "sum")} <= loss_ids
    thresholds = {(case["function"], case["iou_threshold"]) for case in DOCUMENT["nms"]}
    assert {(f, t) for f in ("nms", "batched_nms") for t in (0.0, 0.3, 0.5, 0.7, 1.0)} <= thresholds
    assert DOCUMENT["torchvision"].startswith("0.29.1")
