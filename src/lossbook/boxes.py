"""Boxes: intersection over union and the generalized IoU loss, as in ``torchvision.ops``.

Boxes are rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2`` (corners, not centre and
size). IoU is zero for every pair of disjoint boxes, so it gives no gradient to pull a box toward a
target it does not touch; GIoU (Rezatofighi et al., 2019) subtracts the share of the smallest
enclosing box that the union leaves empty, which keeps pulling.
"""

from dataclasses import dataclass

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses


def _check_boxes(boxes, name):
    boxes = check.as_float_array(boxes, name)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), rows (x1, y1, x2, y2); got {boxes.shape}")
    if boxes.shape[0] == 0:
        raise ValueError(f"{name} holds no boxes (shape {boxes.shape})")
    flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if np.any(flipped):
        row = int(np.flatnonzero(flipped)[0])
        raise ValueError(
            f"{name} must satisfy x1 <= x2 and y1 <= y2; row {row} is {boxes[row].tolist()}"
        )
    return boxes


def _area(boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1, boxes2):
    r"""Intersection over union of every box in `boxes1` with every box in `boxes2`.

    Parameters
    ----------
    boxes1 : array_like, shape (N, 4)
    boxes2 : array_like, shape (M, 4)

    Returns
    -------
    numpy.ndarray, shape (N, M)
        :math:`|A \cap B| / |A \cup B|`, in [0, 1].

    Examples
    --------
    >>> from lossbook import box_iou
    >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [5, 5, 6, 6]])  # overlap 1, union 7; disjoint
    array([[0.14285714, 0.        ]])
    """
    boxes1, boxes2 = _check_boxes(boxes1, "boxes1"), _check_boxes(boxes2, "boxes2")
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sides = np.clip(bottom_right - top_left, 0, None)
    intersection = sides[..., 0] * sides[..., 1]
    union = _area(boxes1)[:, None] + _area(boxes2)[None, :] - intersection
    return intersection / union


def _check_pairs(boxes1, boxes2, reduction, eps):
    boxes1, boxes2 = _check_boxes(boxes1, "boxes1"), _check_boxes(boxes2, "boxes2")
    if boxes1.shape != boxes2.shape:
        raise ValueError(f"boxes1 and boxes2 must pair up row by row; got shapes {boxes1.shape} and {boxes2.shape}")
    check.check_reduction(reduction)
    eps = check.check_real_number(eps, "eps", at_least=0)
    return boxes1, boxes2.astype(boxes1.dtype, copy=False), eps


@dataclass(frozen=True)
class _PairGeometry:
    """Coordinates of paired boxes and the pieces of GIoU: intersection, union, enclosing hull."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    gx1: np.ndarray
    gy1: np.ndarray
    gx2: np.ndarray
    gy2: np.ndarray
    inner_w: np.ndarray
    inner_h: np.ndarray
    overlaps: np.ndarray
    intersection: np.ndarray
    union: np.ndarray
    hull_w: np.ndarray
    hull_h: np.ndarray
    hull: np.ndarray


def _giou_parts(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.T
    gx1, gy1, gx2, gy2 = boxes2.T
    inner_w = np.minimum(x2, gx2) - np.maximum(x1, gx1)
    inner_h = np.minimum(y2, gy2) - np.maximum(y1, gy1)
    overlaps = (inner_w > 0) & (inner_h > 0)
    intersection = np.where(overlaps, inner_w * inner_h, 0)
    union = _area(boxes1) + _area(boxes2) - intersection
    hull_w = np.maximum(x2, gx2) - np.minimum(x1, gx1)
    hull_h = np.maximum(y2, gy2) - np.minimum(y1, gy1)
    return _PairGeometry(
        x1=x1, y1=y1, x2=x2, y2=y2, gx1=gx1, gy1=gy1, gx2=gx2, gy2=gy2,
        inner_w=inner_w, inner_h=inner_h, overlaps=overlaps, intersection=intersection, union=union,
        hull_w=hull_w, hull_h=hull_h, hull=hull_w * hull_h,
    )


def generalized_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""GIoU loss :math:`1 - \mathrm{GIoU}` between paired boxes, as in torchvision.

    Parameters
    ----------
    boxes1, boxes2 : array_like, shape (N, 4)
        Predicted and target boxes, paired row by row.
    reduction : {"none", "mean", "sum"}, default "none" (torchvision's default), keyword-only
    eps : float, default 1e-7, keyword-only
        Keeps the divisions finite for boxes of zero area.

    Notes
    -----
    With intersection :math:`I`, union :math:`U` and smallest enclosing box :math:`C`,

    .. math:: \mathrm{GIoU} = \frac{I}{U + \epsilon} - \frac{C - U}{C + \epsilon}, \qquad
              \ell = 1 - \mathrm{GIoU} \in [0, 2).

    Examples
    --------
    >>> from lossbook import generalized_box_iou_loss
    >>> generalized_box_iou_loss([[0, 0, 2, 2], [0, 0, 1, 1]], [[0, 0, 2, 2], [2, 0, 3, 1]]).round(4)
    array([0.    , 1.3333])
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    p = _giou_parts(boxes1, boxes2)
    giou = p.intersection / (p.union + eps) - (p.hull - p.union) / (p.hull + eps)
    return reduce_losses(1 - giou, reduction, boxes1.dtype)


def _max_share(a, b):
    """d max(a, b) / da: 1 where a wins, 1/2 at a tie (PyTorch's convention), 0 where b wins."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def generalized_box_iou_loss_grad(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""Gradient of :func:`generalized_box_iou_loss` with respect to `boxes1`, shape (N, 4).

    Notes
    -----
    The chain rule through :math:`I`, :math:`U` and :math:`C`, where each of min and max passes
    its gradient to the coordinate that attains it (half to each at a tie, like PyTorch's autograd).
    Disjoint boxes still get a gradient, from the enclosing-box term.
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    p = _giou_parts(boxes1, boxes2)
    width, height = p.x2 - p.x1, p.y2 - p.y1
    zero = np.zeros_like(p.x1)
    # Derivatives of the intersection's sides and of the hull's sides with respect to x1, y1, x2, y2.
    d_inner_w = np.stack([-_max_share(p.x1, p.gx1), zero, _max_share(-p.x2, -p.gx2), zero], axis=1)
    d_inner_h = np.stack([zero, -_max_share(p.y1, p.gy1), zero, _max_share(-p.y2, -p.gy2)], axis=1)
    d_hull_w = np.stack([-_max_share(-p.x1, -p.gx1), zero, _max_share(p.x2, p.gx2), zero], axis=1)
    d_hull_h = np.stack([zero, -_max_share(-p.y1, -p.gy1), zero, _max_share(p.y2, p.gy2)], axis=1)
    d_area = np.stack([-height, -width, height, width], axis=1)
    d_intersection = np.where(
        p.overlaps[:, None], d_inner_w * p.inner_h[:, None] + p.inner_w[:, None] * d_inner_h, 0
    )
    d_union = d_area - d_intersection
    d_hull = d_hull_w * p.hull_h[:, None] + p.hull_w[:, None] * d_hull_h
    union, hull, intersection = p.union[:, None], p.hull[:, None], p.intersection[:, None]
    d_iou = (d_intersection * (union + eps) - intersection * d_union) / (union + eps) ** 2
    d_penalty = ((d_hull - d_union) * (hull + eps) - (hull - union) * d_hull) / (hull + eps) ** 2
    return reduce_grad(-(d_iou - d_penalty), reduction, boxes1.dtype, len(boxes1))
