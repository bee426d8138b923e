"""Boxes: intersection over union, the IoU-family losses and non-maximum suppression, as in ``torchvision.ops``.

Boxes are rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2`` (corners, not centre and
size). IoU is zero for every pair of disjoint boxes, so it gives no gradient to pull a box toward a
target it does not touch; GIoU (Rezatofighi et al., 2019) subtracts the share of the smallest
enclosing box that the union leaves empty, which keeps pulling.
"""

from dataclasses import dataclass

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses


def _check_boxes(boxes, name, *, allow_empty=False):
    boxes = check.as_float_array(boxes, name)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), rows (x1, y1, x2, y2); got {boxes.shape}")
    if boxes.shape[0] == 0 and not allow_empty:
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


def _giou_part_grads(p):
    """Derivatives of I, U and the hull's sides with respect to x1, y1, x2, y2 of boxes1, each (N, 4).

    Every side is a min minus a max: each passes its gradient to the coordinate that attains it, half
    to each at a tie.
    """
    width, height = p.x2 - p.x1, p.y2 - p.y1
    zero = np.zeros_like(p.x1)
    # inner_w = min(x2, gx2) - max(x1, gx1) and hull_w = max(x2, gx2) - min(x1, gx1); likewise in y.
    d_inner_w = np.stack([-_max_share(p.x1, p.gx1), zero, _max_share(-p.x2, -p.gx2), zero], axis=1)
    d_inner_h = np.stack([zero, -_max_share(p.y1, p.gy1), zero, _max_share(-p.y2, -p.gy2)], axis=1)
    d_hull_w = np.stack([-_max_share(-p.x1, -p.gx1), zero, _max_share(p.x2, p.gx2), zero], axis=1)
    d_hull_h = np.stack([zero, -_max_share(-p.y1, -p.gy1), zero, _max_share(p.y2, p.gy2)], axis=1)
    d_area = np.stack([-height, -width, height, width], axis=1)
    d_intersection = np.where(
        p.overlaps[:, None], d_inner_w * p.inner_h[:, None] + p.inner_w[:, None] * d_inner_h, 0
    )
    d_union = d_area - d_intersection
    return d_intersection, d_union, d_hull_w, d_hull_h


def _quotient_grad(numerator, d_numerator, denominator, d_denominator):
    """The quotient rule, d(a / b) = (b da - a db) / b^2, for a, b of shape (N,) and da, db of shape (N, 4)."""
    numerator, denominator = numerator[:, None], denominator[:, None]
    return (d_numerator * denominator - numerator * d_denominator) / denominator**2


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
    d_intersection, d_union, d_hull_w, d_hull_h = _giou_part_grads(p)
    d_hull = d_hull_w * p.hull_h[:, None] + p.hull_w[:, None] * d_hull_h  # hull = hull_w * hull_h
    d_iou = _quotient_grad(p.intersection, d_intersection, p.union + eps, d_union)
    d_penalty = _quotient_grad(p.hull - p.union, d_hull - d_union, p.hull + eps, d_hull)
    return reduce_grad(-(d_iou - d_penalty), reduction, boxes1.dtype, len(boxes1))


def _centre_distance_squared(p):
    """Squared distance between the centres of the paired boxes, in torchvision's order of operations."""
    return ((p.x2 + p.x1) / 2 - (p.gx1 + p.gx2) / 2) ** 2 + ((p.y2 + p.y1) / 2 - (p.gy1 + p.gy2) / 2) ** 2


def _diou_and_iou(boxes1, boxes2, eps):
    """Unreduced DIoU loss and the IoU inside it (torchvision's ``_diou_iou_loss``)."""
    p = _giou_parts(boxes1, boxes2)
    iou = p.intersection / (p.union + eps)
    diagonal_squared = p.hull_w**2 + p.hull_h**2 + eps  # the enclosing box's diagonal, squared, plus eps
    return 1 - iou + _centre_distance_squared(p) / diagonal_squared, iou


def distance_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""DIoU loss :math:`1 - \mathrm{IoU} + \rho^2 / c^2` between paired boxes, as in torchvision.

    Parameters
    ----------
    boxes1, boxes2 : array_like, shape (N, 4)
        Predicted and target boxes, paired row by row.
    reduction : {"none", "mean", "sum"}, default "none" (torchvision's default), keyword-only
    eps : float, default 1e-7, keyword-only
        Added to the union and to the squared diagonal, which keeps both divisions finite.

    Notes
    -----
    Zheng et al. (2020) add to :math:`1 - \mathrm{IoU}` the squared distance :math:`\rho^2` between
    the centres of the two boxes, divided by the squared diagonal :math:`c^2` of their smallest
    enclosing box:

    .. math:: \ell = 1 - \frac{I}{U + \epsilon} + \frac{\rho^2}{c^2 + \epsilon}.

    The penalty lies in [0, 1) and pulls the centres together even when the boxes are disjoint. When
    the centres coincide it is zero and the loss is :math:`1 - \mathrm{IoU}`.

    References
    ----------
    Zheng, Z., Wang, P., Liu, W., Li, J., Ye, R. and Ren, D. (2020). Distance-IoU loss: faster and
    better learning for bounding box regression. AAAI.

    Examples
    --------
    >>> from lossbook import distance_box_iou_loss
    >>> # IoU 1/7 and centres sqrt(2) apart in a 3 x 3 hull; disjoint, centres 2 apart in a 3 x 1 hull
    >>> distance_box_iou_loss([[0, 0, 2, 2], [0, 0, 1, 1]], [[1, 1, 3, 3], [2, 0, 3, 1]]).round(4)
    array([0.9683, 1.4   ])
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    loss, _ = _diou_and_iou(boxes1, boxes2, eps)
    return reduce_losses(loss, reduction, boxes1.dtype)


def _diou_grad(boxes1, boxes2, eps):
    """Gradient of the unreduced DIoU loss with respect to `boxes1`, shape (N, 4)."""
    p = _giou_parts(boxes1, boxes2)
    d_intersection, d_union, d_hull_w, d_hull_h = _giou_part_grads(p)
    d_iou = _quotient_grad(p.intersection, d_intersection, p.union + eps, d_union)
    # rho^2 = (cx - gcx)^2 + (cy - gcy)^2 with cx = (x1 + x2) / 2: d rho^2 / dx1 = d rho^2 / dx2 = cx - gcx.
    dx, dy = (p.x1 + p.x2 - p.gx1 - p.gx2) / 2, (p.y1 + p.y2 - p.gy1 - p.gy2) / 2
    d_distance = np.stack([dx, dy, dx, dy], axis=1)
    d_diagonal = 2 * p.hull_w[:, None] * d_hull_w + 2 * p.hull_h[:, None] * d_hull_h
    diagonal_squared = p.hull_w**2 + p.hull_h**2 + eps
    d_penalty = _quotient_grad(_centre_distance_squared(p), d_distance, diagonal_squared, d_diagonal)
    return -d_iou + d_penalty


def distance_box_iou_loss_grad(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""Gradient of :func:`distance_box_iou_loss` with respect to `boxes1`, shape (N, 4).

    Notes
    -----
    :math:`-\partial(I / (U + \epsilon)) + \partial(\rho^2 / (c^2 + \epsilon))` by the quotient rule,
    with :math:`\partial \rho^2 / \partial x_1 = \partial \rho^2 / \partial x_2 = c_x - \hat c_x` (the
    centre :math:`c_x = (x_1 + x_2) / 2` moves by half of each edge's move) and likewise in y.
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    return reduce_grad(_diou_grad(boxes1, boxes2, eps), reduction, boxes1.dtype, len(boxes1))


_TORCHVISION_DIOU_EPS = 1e-7  # torchvision's CIoU calls its DIoU helper without passing eps on


def _aspect_parts(boxes1, boxes2, eps):
    """CIoU's aspect term v, its weight alpha and the difference of the arctangents, per pair."""
    # Zero height: w / 0 = inf and arctan(inf) = pi / 2; a point: 0 / 0 = nan. Both as in torch, silently.
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.arctan((boxes1[:, 2] - boxes1[:, 0]) / (boxes1[:, 3] - boxes1[:, 1]))
        target_angle = np.arctan((boxes2[:, 2] - boxes2[:, 0]) / (boxes2[:, 3] - boxes2[:, 1]))
    v = (4 / np.pi**2) * (target_angle - angle) ** 2
    _, iou = _diou_and_iou(boxes1, boxes2, _TORCHVISION_DIOU_EPS)
    alpha = v / (1 - iou + v + eps)  # computed under torch.no_grad(): a constant for the gradient
    return v, alpha, target_angle - angle


def complete_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""CIoU loss: the DIoU loss plus an aspect-ratio term :math:`\alpha v`, as in torchvision.

    Parameters
    ----------
    boxes1, boxes2 : array_like, shape (N, 4)
        Predicted and target boxes, paired row by row. A box of zero height has
        :math:`\arctan(w / 0) = \pi / 2`; a box of zero width and height gives nan, as in torchvision.
    reduction : {"none", "mean", "sum"}, default "none" (torchvision's default), keyword-only
    eps : float, default 1e-7, keyword-only
        Used in :math:`\alpha` only. torchvision computes the DIoU part with its default
        :math:`\epsilon = 10^{-7}` whatever `eps` is, and so does this function.

    Notes
    -----
    With :math:`w, h` the sides of a box of `boxes1` and :math:`\hat w, \hat h` those of its target
    (Zheng et al., 2020),

    .. math:: v = \frac{4}{\pi^2} \Big(\arctan\frac{\hat w}{\hat h} - \arctan\frac{w}{h}\Big)^2, \qquad
              \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}, \qquad
              \ell = \ell_{\mathrm{DIoU}} + \alpha v.

    :math:`v` is zero when the two aspect ratios match, and then CIoU equals DIoU. torchvision
    computes :math:`\alpha` under ``torch.no_grad()``: the gradient treats it as a constant, as the
    paper prescribes, and :func:`complete_box_iou_loss_grad` does the same.

    References
    ----------
    Zheng, Z., Wang, P., Liu, W., Li, J., Ye, R. and Ren, D. (2020). Distance-IoU loss: faster and
    better learning for bounding box regression. AAAI.

    Examples
    --------
    >>> from lossbook import complete_box_iou_loss
    >>> # two squares: v = 0, the DIoU loss; a tall box against a wide one pays for the aspect ratio
    >>> complete_box_iou_loss([[0, 0, 2, 2], [0, 0, 1, 2]], [[1, 1, 3, 3], [0, 0, 2, 1]]).round(4)
    array([0.9683, 0.7629])
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    diou, _ = _diou_and_iou(boxes1, boxes2, _TORCHVISION_DIOU_EPS)
    v, alpha, _ = _aspect_parts(boxes1, boxes2, eps)
    return reduce_losses(diou + alpha * v, reduction, boxes1.dtype)


def complete_box_iou_loss_grad(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""Gradient of :func:`complete_box_iou_loss` with respect to `boxes1`, shape (N, 4).

    Notes
    -----
    :math:`\partial \ell_{\mathrm{DIoU}} + \alpha\, \partial v`, with :math:`\alpha` held constant
    (torchvision's ``torch.no_grad()``). Since :math:`w = x_2 - x_1` and :math:`h = y_2 - y_1`,

    .. math:: \frac{\partial}{\partial(x_1, y_1, x_2, y_2)} \arctan\frac{w}{h}
              = \frac{(-h, w, h, -w)}{w^2 + h^2}.

    At zero height this is the finite limit, where torchvision's autograd gives nan
    (:math:`0 \cdot \infty` inside the derivative of :math:`w / h`).
    """
    boxes1, boxes2, eps = _check_pairs(boxes1, boxes2, reduction, eps)
    _, alpha, angle_gap = _aspect_parts(boxes1, boxes2, eps)
    width, height = boxes1[:, 2] - boxes1[:, 0], boxes1[:, 3] - boxes1[:, 1]
    with np.errstate(invalid="ignore"):  # a point box: 0 / 0 = nan, as torchvision's autograd gives
        d_angle = np.stack([-height, width, height, -width], axis=1) / (width**2 + height**2)[:, None]
    d_v = (4 / np.pi**2) * 2 * angle_gap[:, None] * -d_angle
    grad = _diou_grad(boxes1, boxes2, _TORCHVISION_DIOU_EPS) + alpha[:, None] * d_v
    return reduce_grad(grad, reduction, boxes1.dtype, len(boxes1))


def _check_nms_input(boxes, scores, iou_threshold):
    boxes = _check_boxes(boxes, "boxes", allow_empty=True)
    if not np.all(np.isfinite(boxes)):
        raise ValueError("boxes must hold finite coordinates (no nan or infinity)")
    scores = check.as_float_array(scores, "scores")
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), one score per box; got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite: nan has no place in the order of scores")
    return boxes, scores, check.check_real_number(iou_threshold, "iou_threshold")


def _greedy_nms(boxes, scores, iou_threshold):
    """The kept indices of checked input, best score first (the loop of torchvision's CPU kernel)."""
    order = np.argsort(-scores, kind="stable")  # torchvision's CPU sort is stable: ties keep index order
    x1, y1, x2, y2 = boxes[order].T  # from here on, box i is the i-th best
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        later = slice(i + 1, None)  # box i is kept: compare it with every lower-scored box
        inner_w = np.maximum(np.minimum(x2[i], x2[later]) - np.maximum(x1[i], x1[later]), 0)
        inner_h = np.maximum(np.minimum(y2[i], y2[later]) - np.maximum(y1[i], y1[later]), 0)
        intersection = inner_w * inner_h
        with np.errstate(invalid="ignore"):  # two boxes of zero area: 0 / 0 = nan, which suppresses nothing
            iou = intersection / (areas[i] + areas[later] - intersection)
        # IoU in the boxes' dtype, compared with the threshold in float64, as torchvision's kernel does.
        suppressed[later] |= iou > np.float64(iou_threshold)
    return order[~suppressed].astype(np.int64)


def nms(boxes, scores, iou_threshold):
    r"""Non-maximum suppression: the indices of the boxes kept, best score first, as ``torchvision.ops.nms``.

    Greedy: take the box with the highest score that is still in play, keep it, and remove every
    remaining box whose IoU with it is strictly greater than `iou_threshold`; repeat.

    Parameters
    ----------
    boxes : array_like, shape (N, 4)
        Rows ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``, finite. N may be 0.
    scores : array_like, shape (N,)
        One finite score per box.
    iou_threshold : float
        A box is removed when its IoU with a kept, higher-scored box is ``> iou_threshold``. With 0,
        any overlap of positive area removes; with 1 or more, nothing is removed.

    Returns
    -------
    numpy.ndarray of int64, shape (K,)
        Indices into `boxes` of the kept boxes, in decreasing order of score.

    Notes
    -----
    Tied scores are taken in index order (a stable sort, which is what torchvision's CPU kernel
    does; torchvision does not promise it, and its GPU kernel may differ). The IoU of two boxes of
    zero area is 0 / 0, taken as nan, which suppresses nothing, as in torchvision. Each box is
    compared with every lower-scored box still in play, so the loop costs O(N^2) in the worst case.

    Examples
    --------
    >>> from lossbook import nms
    >>> boxes = [[0, 0, 2, 2], [0, 0, 2, 1.9], [5, 5, 6, 6], [1, 0, 3, 2]]
    >>> nms(boxes, [0.6, 0.9, 0.8, 0.7], iou_threshold=0.5)  # box 0 overlaps box 1 at IoU 0.95
    array([1, 2, 3])
    >>> nms(boxes, [0.6, 0.9, 0.8, 0.7], iou_threshold=0.3)  # box 3 overlaps box 1 at IoU 0.32
    array([1, 2])
    """
    boxes, scores, iou_threshold = _check_nms_input(boxes, scores, iou_threshold)
    return _greedy_nms(boxes, scores, iou_threshold)


def batched_nms(boxes, scores, idxs, iou_threshold):
    r"""Non-maximum suppression within each category, as ``torchvision.ops.batched_nms``.

    Boxes of different `idxs` values (classes, or images of a batch) never suppress each other.

    Parameters
    ----------
    boxes : array_like, shape (N, 4)
    scores : array_like, shape (N,)
    idxs : array_like of int, shape (N,)
        The category of each box.
    iou_threshold : float
        As in :func:`nms`.

    Returns
    -------
    numpy.ndarray of int64, shape (K,)
        Indices into `boxes` of the boxes kept in every category, in decreasing order of score
        (tied scores in index order).

    Notes
    -----
    This function runs :func:`nms` on each category and merges the results. torchvision does the
    same above 1000 boxes on the CPU; below, it uses a coordinate-offset trick: it shifts every box
    by ``idxs * (max coordinate + 1)``, so that boxes of different categories cannot overlap, and
    runs one :func:`nms` on all of them. Both give the same indices, except that the shifted
    coordinates round differently, which can flip a comparison with an IoU within about
    :math:`10^{-16}` relative of the threshold, and that the trick assumes coordinates >= 0.
    We do not use it: one loop per category is the definition, readable and exact.

    Examples
    --------
    >>> from lossbook import batched_nms
    >>> boxes = [[0, 0, 2, 2], [0, 0, 2, 1.9], [5, 5, 6, 6]]
    >>> batched_nms(boxes, [0.6, 0.9, 0.8], [0, 0, 0], iou_threshold=0.5)
    array([1, 2])
    >>> batched_nms(boxes, [0.6, 0.9, 0.8], [0, 1, 0], iou_threshold=0.5)  # two classes: both kept
    array([1, 2, 0])
    """
    boxes, scores, iou_threshold = _check_nms_input(boxes, scores, iou_threshold)
    idxs = np.asarray(idxs)
    if idxs.dtype.kind not in "iu":
        raise TypeError(f"idxs must hold integer category indices; got dtype {idxs.dtype}")
    if idxs.shape != (len(boxes),):
        raise ValueError(f"idxs must have shape ({len(boxes)},), one category per box; got {idxs.shape}")
    categories = [np.flatnonzero(idxs == category) for category in np.unique(idxs)]
    kept = [members[_greedy_nms(boxes[members], scores[members], iou_threshold)] for members in categories]
    keep = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.int64)  # index order, then:
    return keep[np.argsort(-scores[keep], kind="stable")].astype(np.int64)  # by score, ties in index order
