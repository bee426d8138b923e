"""box_iou and the GIoU loss: torchvision golden values, geometry, the gradient disjoint boxes get, errors."""

import numpy as np
import pytest

from lossbook import box_iou, generalized_box_iou_loss, generalized_box_iou_loss_grad

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


@pytest.mark.parametrize("function", [generalized_box_iou_loss, generalized_box_iou_loss_grad])
def test_bad_boxes_name_the_argument(function):
    with pytest.raises(ValueError, match=r"boxes1 must satisfy x1 <= x2 and y1 <= y2; row 1"):
        function([[0, 0, 1, 1], [2, 0, 1, 1]], B1[:2])
    with pytest.raises(ValueError, match=r"boxes2 must have shape \(N, 4\)"):
        function(B1, B1[:, :3])
    with pytest.raises(ValueError, match="pair up row by row"):
        function(B1, B1[:2])
    with pytest.raises(ValueError, match="boxes1 holds no boxes"):
        function(np.zeros((0, 4)), np.zeros((0, 4)))


def test_box_iou_rejects_flipped_boxes():
    with pytest.raises(ValueError, match="boxes2 must satisfy"):
        box_iou(B1, [[0, 3, 1, 1]])
