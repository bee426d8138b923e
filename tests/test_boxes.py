"""box_iou, the GIoU, DIoU and CIoU losses and NMS: golden values, geometry, properties, errors.

The full torchvision comparison is tests/test_torchvision_parity.py."""

import numpy as np
import pytest

from lossbook import (
    batched_nms,
    box_iou,
    complete_box_iou_loss,
    complete_box_iou_loss_grad,
    distance_box_iou_loss,
    distance_box_iou_loss_grad,
    generalized_box_iou_loss,
    generalized_box_iou_loss_grad,
    nms,
)
from lossbook.gradcheck import numerical_grad

# torchvision 0.28's generalized_box_iou_loss transcribed into torch 2.13.0 (float64), autograd gradients.
B1 = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 4.0, 3.0]])
B2 = np.array([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0], [0.5, 2.0, 3.5, 5.0]])


def test_giou_matches_torchvision():
    np.testing.assert_allclose(
        generalized_box_iou_loss(B1, B2), [1.07936507893676, 1.3333333222222226, 0.907142857977551], rtol=1e-12
    )
    grad = generalized_box_iou_loss_grad(B1, B2)
    torch_grad = [
        [-0.0778533628, -0.0778533628, -0.233560088, -0.233560088],
        [0.1111111037, -5.6e-09, -0.3333333222, 5.6e-09],
        [0.1354285705, -0.0569285708, 0.1442448969, -0.227714284],
    ]
    np.testing.assert_allclose(grad, torch_grad, atol=2e-9)


def test_box_iou_geometry():
    iou = box_iou([[0, 0, 2, 2], [0, 0, 1, 1]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0], [0.0, 0.25, 0.0]])


def test_disjoint_boxes_get_a_gradient_from_giou_but_not_from_iou():
    predicted, target = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[3.0, 0.0, 4.0, 1.0]])
    assert box_iou(predicted, target)[0, 0] == 0.0  # IoU is flat here: zero for any small move
    grad = generalized_box_iou_loss_grad(predicted, target)
    assert grad[0, 2] < 0  # moving the right edge toward the target lowers the loss
    assert generalized_box_iou_loss(predicted, target)[0] > 1.0  # disjoint: GIoU < 0


def test_giou_range_and_identity(rng):
    centres, sizes = rng.uniform(0, 5, size=(50, 2)), rng.uniform(0.1, 2, size=(50, 2))
    boxes = np.c_[centres - sizes / 2, centres + sizes / 2]
    others = np.roll(boxes, 1, axis=0)
    losses = generalized_box_iou_loss(boxes, others)
    assert np.all((losses >= 0) & (losses <= 2))
    # eps = 1e-7 shifts the loss by about eps / area; without it a box matches itself exactly.
    np.testing.assert_allclose(generalized_box_iou_loss(boxes, boxes, eps=0.0), 0.0, atol=1e-15)


@pytest.mark.parametrize("function", [
    generalized_box_iou_loss, generalized_box_iou_loss_grad, distance_box_iou_loss, distance_box_iou_loss_grad,
    complete_box_iou_loss, complete_box_iou_loss_grad,
])
def test_bad_boxes_name_the_argument(function):
    with pytest.raises(ValueError, match=r"boxes1 must satisfy x1 <= x2 and y1 <= y2; row 1"):
        function([[0, 0, 1, 1], [2, 0, 1, 1]], B1[:2])
    with pytest.raises(ValueError, match=r"boxes2 must have shape \(N, 4\)"):
        function(B1, B1[:, :3])
    with pytest.raises(ValueError, match="pair up row by row"):
        function(B1, B1[:2])
    with pytest.raises(ValueError, match="boxes1 holds no boxes"):
        function(np.zeros((0, 4)), np.zeros((0, 4)))


def random_pairs(rng, count=30):
    centres, sizes = rng.uniform(0, 5, size=(count, 2)), rng.uniform(0.1, 2, size=(count, 2))
    boxes = np.c_[centres - sizes / 2, centres + sizes / 2]
    return boxes, np.roll(boxes, 1, axis=0) + rng.normal(0, 0.3, size=(count, 4)).clip(-0.05, 0.05)


def test_diou_is_one_minus_iou_when_centres_coincide(rng):
    centres = rng.uniform(0, 5, size=(20, 2))
    half1, half2 = rng.uniform(0.1, 1, size=(20, 2)), rng.uniform(0.1, 1, size=(20, 2))
    boxes1, boxes2 = np.c_[centres - half1, centres + half1], np.c_[centres - half2, centres + half2]
    iou = np.diag(box_iou(boxes1, boxes2))
    np.testing.assert_allclose(distance_box_iou_loss(boxes1, boxes2, eps=0.0), 1 - iou, rtol=1e-12, atol=1e-15)


def test_diou_range_symmetry_and_the_pull_on_disjoint_boxes(rng):
    boxes1, boxes2 = random_pairs(rng)
    losses = distance_box_iou_loss(boxes1, boxes2)
    assert np.all((losses >= 0) & (losses < 2))
    np.testing.assert_allclose(losses, distance_box_iou_loss(boxes2, boxes1), rtol=1e-12)  # symmetric
    predicted, target = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[3.0, 2.0, 4.0, 3.0]])
    grad = distance_box_iou_loss_grad(predicted, target)
    # Shifting the whole box toward the target (x1 and x2 together, y1 and y2 together) lowers the loss.
    assert grad[0, 0] + grad[0, 2] < 0 and grad[0, 1] + grad[0, 3] < 0
    assert box_iou(predicted, target)[0, 0] == 0.0  # where IoU alone is flat


def test_ciou_equals_diou_when_aspect_ratios_match(rng):
    boxes1, _ = random_pairs(rng)
    centres, sides = rng.uniform(0, 5, size=(30, 2)), (boxes1[:, 2:] - boxes1[:, :2]) * rng.uniform(0.5, 2, (30, 1))
    boxes2 = np.c_[centres - sides / 2, centres + sides / 2]  # same aspect ratio, other size and place
    np.testing.assert_allclose(complete_box_iou_loss(boxes1, boxes2), distance_box_iou_loss(boxes1, boxes2),
                               rtol=1e-12)
    np.testing.assert_allclose(complete_box_iou_loss_grad(boxes1, boxes2), distance_box_iou_loss_grad(boxes1, boxes2),
                               rtol=1e-9, atol=1e-12)
    # torchvision's quirk: eps reaches alpha only; the DIoU part keeps eps = 1e-7.
    np.testing.assert_allclose(complete_box_iou_loss(boxes1, boxes2, eps=0.5), distance_box_iou_loss(boxes1, boxes2),
                               rtol=1e-12)
    assert not np.allclose(distance_box_iou_loss(boxes1, boxes2, eps=0.5), distance_box_iou_loss(boxes1, boxes2))


def test_ciou_gradient_holds_alpha_constant(rng):
    from lossbook.boxes import _aspect_parts

    boxes1, boxes2 = random_pairs(rng, 5)
    _, alpha, _ = _aspect_parts(boxes1, boxes2, 1e-7)

    def alpha_frozen(x):  # CIoU with alpha fixed at boxes1: what torchvision's autograd differentiates
        v, _, _ = _aspect_parts(x, boxes2, 1e-7)
        return np.sum(distance_box_iou_loss(x, boxes2) + alpha * v)

    grad = complete_box_iou_loss_grad(boxes1, boxes2)
    np.testing.assert_allclose(grad, numerical_grad(alpha_frozen, boxes1), rtol=1e-6, atol=1e-9)
    full = numerical_grad(lambda x: np.sum(complete_box_iou_loss(x, boxes2)), boxes1)
    assert np.max(np.abs(grad - full)) > 1e-4  # letting alpha vary would give another gradient


def test_ciou_of_a_zero_height_box_is_finite_with_the_limit_gradient():
    flat, target = np.array([[0.0, 1.0, 2.0, 1.0]]), np.array([[0.0, 0.0, 2.0, 2.0]])
    v = 4 / np.pi**2 * (np.pi / 4 - np.pi / 2) ** 2  # arctan(2 / 0) = pi / 2
    diou = distance_box_iou_loss(flat, target)
    np.testing.assert_allclose(complete_box_iou_loss(flat, target), diou + v / (1 - 0 + v + 1e-7) * v, rtol=1e-12)
    assert np.all(np.isfinite(complete_box_iou_loss_grad(flat, target)))


def test_box_iou_rejects_flipped_boxes():
    with pytest.raises(ValueError, match="boxes2 must satisfy"):
        box_iou(B1, [[0, 3, 1, 1]])


# --------------------------------------------------------------------------------------------------
# Non-maximum suppression
# --------------------------------------------------------------------------------------------------

def random_scene(rng, count, classes=1):
    """Clustered boxes (so that many overlap) with distinct scores, and their categories."""
    centres = rng.uniform(0, 10, size=(4, 2))[rng.integers(0, 4, size=count)] + rng.normal(0, 0.7, size=(count, 2))
    sizes = rng.uniform(0.5, 3, size=(count, 2))
    boxes = np.c_[centres - sizes / 2, centres + sizes / 2]
    return boxes, rng.permutation(count) / count + 0.01, rng.integers(0, classes, size=count)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_is_greedy_suppression_by_its_defining_properties(rng, threshold):
    for _ in range(5):
        boxes, scores, _ = random_scene(rng, 40)
        keep = nms(boxes, scores, threshold)
        assert keep.dtype == np.int64
        assert np.all(np.diff(scores[keep]) < 0), "kept boxes come in decreasing order of score"
        iou = box_iou(boxes, boxes)
        kept_pairs = iou[np.ix_(keep, keep)]
        assert np.all(kept_pairs[~np.eye(len(keep), dtype=bool)] <= threshold), "two kept boxes overlap too much"
        for removed in np.setdiff1d(np.arange(len(boxes)), keep):
            suppressors = keep[(scores[keep] > scores[removed]) & (iou[keep, removed] > threshold)]
            assert len(suppressors) > 0, f"box {removed} was removed by no kept, higher-scored box"
    assert 0 < len(nms(boxes, scores, 0.5)) < len(boxes)  # the scenes do exercise suppression


def test_nms_hand_cases():
    boxes = [[0, 0, 2, 2], [0, 0, 2, 1.9], [5, 5, 6, 6], [1, 0, 3, 2]]
    scores = [0.6, 0.9, 0.8, 0.7]
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2, 3])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [1, 2])  # IoU(box 1, box 3) = 1.9 / 5.9
    np.testing.assert_array_equal(nms(boxes, scores, 1.0), [1, 2, 3, 0])  # IoU > 1 never happens
    # IoU exactly at the threshold does not suppress: [0, 0, 2, 2] and [1, 0, 3, 2] have IoU 2 / 6.
    np.testing.assert_array_equal(nms([[0, 0, 2, 2], [1, 0, 3, 2]], [0.9, 0.8], 1 / 3), [0, 1])
    np.testing.assert_array_equal(nms([[0, 0, 2, 2], [1, 0, 3, 2]], [0.9, 0.8], 0.33), [0])
    # Touching boxes share no area: kept even at threshold 0.
    np.testing.assert_array_equal(nms([[0, 0, 1, 1], [1, 0, 2, 1]], [0.5, 0.6], 0.0), [1, 0])


def test_nms_ties_and_degenerate_boxes():
    identical = np.tile([[0.0, 0.0, 1.0, 1.0]], (4, 1))
    np.testing.assert_array_equal(nms(identical, [0.5, 0.7, 0.7, 0.5], 0.5), [1])  # tie: lowest index first
    np.testing.assert_array_equal(nms(identical, np.full(4, 0.5), 0.99), [0])
    points = np.zeros((2, 4))  # IoU 0 / 0 of two zero-area boxes suppresses nothing
    np.testing.assert_array_equal(nms(points, [0.2, 0.1], 0.0), [0, 1])


def test_nms_of_nothing_is_an_empty_int64_array():
    for keep in (nms(np.zeros((0, 4)), np.zeros(0), 0.5), batched_nms(np.zeros((0, 4)), [], np.zeros(0, int), 0.5)):
        assert keep.shape == (0,) and keep.dtype == np.int64


def test_nms_float32_compares_its_float32_iou_with_the_float64_threshold():
    boxes = np.array([[0, 0, 2, 2], [1, 0, 3, 2]])  # IoU 2 / 6
    assert float(np.float32(2) / np.float32(6)) > 1 / 3  # rounded up in float32
    np.testing.assert_array_equal(nms(boxes, [0.9, 0.8], 1 / 3), [0, 1])
    np.testing.assert_array_equal(nms(boxes.astype(np.float32), [0.9, 0.8], 1 / 3), [0])


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.7])
def test_batched_nms_is_nms_per_category_merged_by_score(rng, threshold):
    boxes, scores, idxs = random_scene(rng, 60, classes=3)
    idxs = idxs * 7 - 5  # any integers, negative too
    keep = batched_nms(boxes, scores, idxs, threshold)
    per_category = [np.flatnonzero(idxs == c)[nms(boxes[idxs == c], scores[idxs == c], threshold)]
                    for c in np.unique(idxs)]
    merged = np.concatenate(per_category)
    np.testing.assert_array_equal(keep, merged[np.argsort(-scores[merged])])
    assert keep.dtype == np.int64
    one_category = batched_nms(boxes, scores, np.zeros(60, int), threshold)
    np.testing.assert_array_equal(one_category, nms(boxes, scores, threshold))


def test_batched_nms_ties_across_categories_come_in_index_order():
    boxes = np.tile([[0.0, 0.0, 1.0, 1.0]], (4, 1))
    np.testing.assert_array_equal(batched_nms(boxes, np.full(4, 0.5), [1, 0, 1, 0], 0.5), [0, 1])


def test_nms_errors_name_the_argument():
    boxes, scores = np.array([[0.0, 0, 1, 1], [0, 0, 2, 2]]), np.array([0.5, 0.4])
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        nms(boxes[:, :3], scores, 0.5)
    with pytest.raises(ValueError, match=r"boxes must satisfy x1 <= x2"):
        nms([[1, 0, 0, 1]], [0.5], 0.5)
    with pytest.raises(ValueError, match="boxes must hold finite"):
        nms([[0, 0, np.inf, 1]], [0.5], 0.5)
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        nms(boxes, scores[:1], 0.5)
    with pytest.raises(ValueError, match="scores must be finite"):
        nms(boxes, [0.5, np.nan], 0.5)
    with pytest.raises(TypeError, match="scores must hold real numbers"):
        nms(boxes, ["a", "b"], 0.5)
    with pytest.raises(ValueError, match="iou_threshold must be a finite number"):
        nms(boxes, scores, np.nan)
    with pytest.raises(TypeError, match="iou_threshold must be a real number"):
        nms(boxes, scores, "0.5")
    with pytest.raises(TypeError, match="idxs must hold integer"):
        batched_nms(boxes, scores, [0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match=r"idxs must have shape \(2,\)"):
        batched_nms(boxes, scores, [0, 1, 2], 0.5)
