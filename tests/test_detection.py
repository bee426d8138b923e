"""The detection loss of the 4 + 1 + C head: box decoding, the multi-task loss and its gradient."""

import numpy as np
import pytest

import lossbook
from lossbook import detection
from lossbook.detection import (
    BOX,
    CLASSES,
    DEFAULT_WEIGHTS,
    IGNORE_INDEX,
    OBJECTNESS,
    decode_boxes,
    decode_boxes_backward,
    detection_loss,
    detection_loss_grad,
    detection_loss_terms,
)
from lossbook.gradcheck import numerical_grad, numerical_jacobian, relative_error

# ------------------------------------------------------------------------------------------------
# Boxes through the sigmoid


def test_decode_boxes_backward_is_the_chain_rule(rng):
    raw = rng.normal(size=(5, 4))
    upstream = rng.normal(size=(5, 4))
    jacobian = numerical_jacobian(lambda r: decode_boxes(r.reshape(5, 4)).ravel(), raw.ravel())
    expected = (upstream.ravel() @ jacobian).reshape(5, 4)
    assert relative_error(decode_boxes_backward(raw, upstream), expected) < 1e-7


def test_decoded_boxes_are_well_formed(rng):
    corners = decode_boxes(rng.normal(scale=5.0, size=(50, 4)))
    assert np.all(corners[:, 2] > corners[:, 0]) and np.all(corners[:, 3] > corners[:, 1])


# ------------------------------------------------------------------------------------------------
# The multi-task loss


ONLY_BOX = {"objectness": 0.0, "class": 0.0, "box": 1.0, "giou": 0.0}
ONLY_GIOU = {"objectness": 0.0, "class": 0.0, "box": 0.0, "giou": 1.0}
WEIGHT_CASES = [None, {"objectness": 0.5, "class": 2.0, "box": 3.0, "giou": 0.7}, ONLY_BOX, ONLY_GIOU]


@pytest.mark.parametrize("weights", WEIGHT_CASES, ids=["default", "all", "box-only", "giou-only"])
@pytest.mark.parametrize("beta", [0.05, 1.0])
def test_detection_loss_gradient_matches_finite_differences(detection_batch, weights, beta):
    outputs, has_object, labels, boxes = detection_batch()
    analytic = detection_loss_grad(outputs, has_object, labels, boxes, weights, beta)
    numeric = numerical_grad(lambda o: detection_loss(o, has_object, labels, boxes, weights, beta), outputs)
    assert analytic.shape == outputs.shape
    # Some entries are exactly 0 (a box straddling its target on one axis); there finite differences
    # leave rounding noise of about 1e-10, hence the absolute tolerance.
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_empty_images_get_gradient_on_objectness_only(detection_batch):
    outputs, has_object, labels, boxes = detection_batch()
    grad = detection_loss_grad(outputs, has_object, labels, boxes)
    empty = has_object == 0
    assert np.all(grad[empty, BOX] == 0) and np.all(grad[empty, CLASSES] == 0)
    assert np.all(grad[empty, OBJECTNESS] > 0)  # pushes their objectness logit down


def test_loss_is_the_weighted_sum_of_library_terms(detection_batch):
    outputs, has_object, labels, boxes = detection_batch()
    present = has_object == 1
    corners = decode_boxes(outputs[present, BOX])
    expected = {
        "objectness": lossbook.binary_cross_entropy_with_logits(outputs[:, OBJECTNESS], has_object.astype(float)),
        "class": lossbook.cross_entropy(outputs[present, CLASSES], labels[present]),
        "box": lossbook.smooth_l1_loss(corners, boxes[present], reduction="none", beta=0.05).sum(axis=1).mean(),
        "giou": lossbook.generalized_box_iou_loss(corners, boxes[present]).mean(),
    }
    terms = detection_loss_terms(outputs, has_object, labels, boxes)
    for name, value in expected.items():
        assert terms[name] == pytest.approx(float(value), rel=1e-12), name
    total = sum(DEFAULT_WEIGHTS[name] * expected[name] for name in expected)
    assert float(detection_loss(outputs, has_object, labels, boxes)) == pytest.approx(float(total), rel=1e-12)


def test_labels_and_boxes_of_empty_images_are_ignored(detection_batch):
    outputs, has_object, labels, boxes = detection_batch()
    other_labels, other_boxes = labels.copy(), boxes.copy()
    other_labels[has_object == 0] = 2
    other_boxes[has_object == 0] = 0.5
    assert detection_loss(outputs, has_object, labels, boxes) == detection_loss(
        outputs, has_object, other_labels, other_boxes
    )


def test_weights_left_out_keep_their_defaults(detection_batch):
    batch = detection_batch()
    terms = detection_loss_terms(*batch)
    without_giou = sum(DEFAULT_WEIGHTS[name] * terms[name] for name in ("objectness", "class", "box"))
    assert float(detection_loss(*batch, weights={"giou": 0})) == pytest.approx(without_giou, rel=1e-12)


def test_batch_without_objects_has_objectness_only(rng):
    outputs = rng.normal(size=(4, 8))
    nothing = np.zeros(4, dtype=np.int64)
    terms = detection_loss_terms(outputs, nothing, np.full(4, IGNORE_INDEX), np.full((4, 4), np.nan))
    assert terms["class"] == terms["box"] == terms["giou"] == 0.0
    grad = detection_loss_grad(outputs, nothing, np.full(4, IGNORE_INDEX), np.full((4, 4), np.nan))
    assert np.all(np.isfinite(grad)) and np.all(grad[:, [0, 1, 2, 3, 5, 6, 7]] == 0)


def test_float32_stays_float32(detection_batch):
    outputs, has_object, labels, boxes = detection_batch()
    assert detection_loss(outputs.astype(np.float32), has_object, labels, boxes).dtype == np.float32
    assert detection_loss_grad(outputs.astype(np.float32), has_object, labels, boxes).dtype == np.float32


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda b: {**b, "outputs": b["outputs"][:, :5]}, ValueError, "outputs"),
        (lambda b: {**b, "has_object": b["has_object"][:3]}, ValueError, "has_object"),
        (lambda b: {**b, "has_object": b["has_object"] * 2}, ValueError, "has_object"),
        (lambda b: {**b, "labels": b["labels"][:, None]}, ValueError, "labels"),
        (lambda b: {**b, "labels": np.where(b["has_object"] == 1, 3, -100)}, ValueError, "labels"),
        (lambda b: {**b, "labels": np.where(b["has_object"] == 1, 0.5, -100)}, ValueError, "labels"),
        (lambda b: {**b, "labels": b["labels"].astype(str)}, TypeError, "labels"),
        (lambda b: {**b, "boxes": b["boxes"][:, :2]}, ValueError, "boxes"),
        (lambda b: {**b, "boxes": np.full_like(b["boxes"], np.nan)}, ValueError, "boxes"),
        (lambda b: {**b, "weights": {"size": 1.0}}, ValueError, "weights"),
        (lambda b: {**b, "weights": [1.0, 1.0, 5.0, 1.0]}, TypeError, "weights"),
        (lambda b: {**b, "weights": {"box": -1.0}}, ValueError, "weights"),
        (lambda b: {**b, "beta": -0.1}, ValueError, "beta"),
    ],
)
def test_detection_loss_rejects_bad_input(detection_batch, change, error, match):
    outputs, has_object, labels, boxes = detection_batch()
    arguments = change({"outputs": outputs, "has_object": has_object, "labels": labels, "boxes": boxes})
    for function in (detection_loss, detection_loss_grad):
        with pytest.raises(error, match=match):
            function(**arguments)




# ------------------------------------------------------------------------------------------------
# The training step's entry point: one check of the input for the loss, its terms and its gradient


@pytest.mark.parametrize("empty", [(1, 4), tuple(range(7))], ids=["some-empty", "all-empty"])
def test_one_check_gives_the_loss_its_terms_and_its_gradient(detection_batch, monkeypatch, empty):
    batch = detection_batch(empty=empty)
    weights = {"box": 2.0, "giou": 0.5}
    checks = []
    prepare = detection._prepare_loss

    def counted(*args):
        checks.append(args)
        return prepare(*args)

    monkeypatch.setattr(detection, "_prepare_loss", counted)
    loss, terms, grad = detection._loss_terms_and_grad(*batch, weights, 0.1)
    assert len(checks) == 1
    assert terms == detection_loss_terms(*batch, 0.1)
    assert loss == pytest.approx(float(detection_loss(*batch, weights, 0.1)), rel=1e-12)
    np.testing.assert_array_equal(grad, detection_loss_grad(*batch, weights, 0.1))


def test_the_gradient_does_not_evaluate_the_terms(detection_batch, monkeypatch):
    def forbidden(*args):
        raise AssertionError("detection_loss_grad evaluated the four terms of the loss")

    monkeypatch.setattr(detection, "_terms", forbidden)
    assert detection_loss_grad(*detection_batch()).shape == (7, 8)
