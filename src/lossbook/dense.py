r"""The dense detector's head: target assignment, box encoding, the dense ``4 + 1 + C`` loss and decoding.

A dense detector predicts at every cell of a grid laid over the image, and at each cell for each of
A anchors (reference box sizes): ``4 + 1 + C`` numbers, laid out as YOLO lays them out (four box
values, one objectness logit, C class logits; the same layout as :mod:`lossbook.detection`). On a
64 x 64 image with stride 8 the grid is 8 x 8, so with 3 anchors the head makes 192 predictions per
image, and a scene with two objects has 2 positives and 190 negatives: the objectness term meets
the imbalance that binary cross-entropy with ``pos_weight`` and focal loss are about.

Assignment (YOLO's rule). The cell that contains an object's centre is responsible for it, and in
that cell the anchor whose size is nearest the object's, in log scale, so that one anchor learns
small objects and another large ones. If that anchor already holds an object of the same image,
the next nearest anchor of the cell takes it; if every anchor of the cell is taken, the object is
left unassigned: no prediction learns it, and it counts as a miss at evaluation
(:attr:`DenseTargets.unassigned` says how often this happens). Objects are assigned largest first.

Box encoding. A prediction at cell (row i, column j) with anchor size a decodes its raw values
:math:`(t_x, t_y, t_w, t_h)` into a centre inside its cell and a size relative to its anchor,

.. math:: c_x = s\,(j + \sigma(t_x)), \quad c_y = s\,(i + \sigma(t_y)), \quad
          w = a\, e^{t_w}, \quad h = a\, e^{t_h}

(stride s in pixels), then into corners. The encoded target of a box is
:math:`(c_x / s - j,\ c_y / s - i,\ \log(w / a),\ \log(h / a))`, which smooth L1 compares with
:math:`(\sigma(t_x), \sigma(t_y), t_w, t_h)`; GIoU and CIoU compare the decoded corners with the
target's corners instead.

The loss adds three terms, each a public loss of the library normalized by the number of positives
(RetinaNet's convention, so that the scale does not depend on how many objects a batch holds):
objectness over all predictions, classes and boxes over the positives. :func:`dense_loss_grad` builds
the gradient from the ``_grad`` twins and the chain rule through the decoding.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from lossbook import _validation as check
from lossbook.binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
)
from lossbook.boxes import (
    batched_nms,
    complete_box_iou_loss,
    complete_box_iou_loss_grad,
    generalized_box_iou_loss,
    generalized_box_iou_loss_grad,
)
from lossbook.classification import cross_entropy, cross_entropy_grad
from lossbook.detection import BOX, CLASSES, IGNORE_INDEX, OBJECTNESS, _resolve_weights
from lossbook.regression import smooth_l1_loss, smooth_l1_loss_grad
from lossbook.stable import sigmoid, softmax

DEFAULT_STRIDE = 8
"""Pixels per grid cell: a 64 x 64 image gives an 8 x 8 grid."""

DEFAULT_ANCHORS = (8.0, 16.0, 32.0)
"""Anchor sizes in pixels: one for small, one for medium, one for large objects (4 to 40 pixels)."""

OBJECTNESS_LOSSES = ("bce", "bce_pos_weight", "focal")
CLASS_LOSSES = ("softmax", "sigmoid")
BOX_LOSSES = ("smooth_l1", "giou", "ciou")
TERMS = ("objectness", "class", "box")

DEFAULT_WEIGHTS = MappingProxyType({"objectness": 1.0, "class": 1.0, "box": 6.0})
"""Weights of the three terms; read-only, pass a dict to :func:`dense_loss` to change some of them.

The box weight was chosen on validation scenes (seed 0, GIoU boxes, mean average precision): 1 gave
0.57 after 80,000 training scenes, 6 gave 0.67 and 10 gave 0.66."""

DEFAULT_BETA = 0.1
"""Width of smooth L1's quadratic zone, in encoded units (a tenth of a cell; a tenth of log size)."""


# ----------------------------------------------------------------------------------------------
# Assignment


@dataclass
class DenseTargets:
    """What each prediction of a batch should output: the result of :func:`assign_targets`.

    Arrays are indexed (image, grid row, grid column, anchor).

    Attributes
    ----------
    objectness : numpy.ndarray, shape (N, G, G, A), float64
        1 where the prediction is responsible for an object, 0 elsewhere.
    labels : numpy.ndarray, shape (N, G, G, A), int64
        The object's class, IGNORE_INDEX (-100) where there is none.
    boxes : numpy.ndarray, shape (N, G, G, A, 4), float64
        The object's corners in pixels, NaN where there is none.
    stride : float
        Pixels per grid cell.
    anchors : numpy.ndarray, shape (A,)
        Anchor sizes in pixels.
    unassigned : int
        Objects of the batch that found no free anchor in their cell.
    """

    objectness: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    stride: float
    anchors: np.ndarray
    unassigned: int

    @property
    def positive(self):
        """Boolean mask (N, G, G, A) of the predictions responsible for an object."""
        return self.objectness == 1

    def positive_geometry(self):
        """(cells, anchor sizes) of the positives, in the order of ``array[positive]``: cells (K, 2)
        hold (row, column), sizes (K,) the anchor sizes in pixels."""
        _, rows, cols, anchor = np.nonzero(self.positive)
        return np.stack([rows, cols], axis=1), self.anchors[anchor]


def _check_geometry(stride, anchors):
    stride = check.check_real_number(stride, "stride", at_least=0)
    anchors = check.as_float_array(anchors, "anchors")
    if stride == 0 or anchors.ndim != 1 or len(anchors) == 0 or np.any(~(anchors > 0)):
        raise ValueError(f"stride must be > 0 and anchors a non-empty 1-d array of sizes > 0; "
                         f"got stride={stride}, anchors={anchors.tolist()}")
    return stride, anchors.astype(np.float64)


def _check_target(target, index, image_size):
    if not isinstance(target, Mapping) or "boxes" not in target or "labels" not in target:
        raise TypeError(f"targets[{index}] must be a dict with 'boxes' (k, 4) and 'labels' (k,)")
    boxes = check.as_float_array(target["boxes"], f"targets[{index}]['boxes']")
    if boxes.size == 0:  # an image without objects may hold boxes of shape (0,) or (0, 4)
        boxes = boxes.reshape(0, 4)
    labels = np.asarray(target["labels"])
    if boxes.ndim != 2 or boxes.shape[1] != 4 or labels.shape != (len(boxes),):
        raise ValueError(f"targets[{index}] must hold boxes of shape (k, 4) and labels of shape (k,); "
                         f"got {boxes.shape} and {labels.shape}")
    if len(labels) and labels.dtype.kind not in "iu":
        raise TypeError(f"targets[{index}]['labels'] must hold integer class indices; got dtype {labels.dtype}")
    if np.any(boxes[:, 2:] <= boxes[:, :2]) or np.any(boxes < 0) or np.any(boxes > image_size):
        raise ValueError(f"targets[{index}]['boxes'] must be corners (x1, y1, x2, y2) with x1 < x2, y1 < y2, "
                         f"inside the {image_size:g} x {image_size:g} image")
    return boxes, labels.astype(np.int64)


def assign_targets(targets, grid_size, *, stride=DEFAULT_STRIDE, anchors=DEFAULT_ANCHORS):
    r"""Decide which prediction is responsible for each object: the centre's cell, the nearest anchor.

    Parameters
    ----------
    targets : list of dict
        One per image, torchmetrics' format: ``"boxes"`` (k, 4) corners in pixels, ``"labels"`` (k,).
    grid_size : int
        G: the grid is G x G cells, covering an image of ``G * stride`` pixels.
    stride : float, default 8, keyword-only
    anchors : sequence of float, default :data:`DEFAULT_ANCHORS`, keyword-only
        Anchor sizes in pixels.

    Returns
    -------
    DenseTargets

    Notes
    -----
    An object of width w and height h prefers the anchors in increasing order of
    :math:`|\log(\sqrt{wh} / a)|`. Objects of an image are taken largest first; each goes to its
    most preferred anchor that is still free in its cell, or stays unassigned.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.dense import assign_targets
    >>> target = {"boxes": np.array([[2.0, 2.0, 12.0, 12.0], [4.0, 4.0, 8.0, 8.0]]), "labels": np.array([1, 2])}
    >>> assigned = assign_targets([target], 8)  # both centres (7, 7) and (6, 6) fall in cell (0, 0)
    >>> [tuple(int(v) for v in index) for index in np.argwhere(assigned.positive)]  # (image, row, col, anchor)
    [(0, 0, 0, 0), (0, 0, 0, 1)]
    >>> assigned.labels[0, 0, 0].tolist()  # anchor 8 to the 10-pixel box; the 4-pixel one, second, gets 16
    [1, 2, -100]
    """
    grid_size = check.check_integer(grid_size, "grid_size")
    if grid_size < 1:
        raise ValueError(f"grid_size must be >= 1; got {grid_size}")
    stride, anchors = _check_geometry(stride, anchors)
    if isinstance(targets, Mapping) or not hasattr(targets, "__len__"):
        raise TypeError("targets must be a list of dicts, one per image")
    n = len(targets)
    shape = (n, grid_size, grid_size, len(anchors))
    objectness = np.zeros(shape)
    labels = np.full(shape, IGNORE_INDEX, dtype=np.int64)
    boxes = np.full((*shape, 4), np.nan)
    unassigned = 0
    for image, target in enumerate(targets):
        target_boxes, target_labels = _check_target(target, image, grid_size * stride)
        widths, heights = target_boxes[:, 2] - target_boxes[:, 0], target_boxes[:, 3] - target_boxes[:, 1]
        centres_x = (target_boxes[:, 0] + target_boxes[:, 2]) / 2
        centres_y = (target_boxes[:, 1] + target_boxes[:, 3]) / 2
        # A centre on the far edge of the image belongs to the last cell.
        cols = np.minimum((centres_x // stride).astype(int), grid_size - 1)
        rows = np.minimum((centres_y // stride).astype(int), grid_size - 1)
        sizes = np.sqrt(widths * heights)
        for k in np.argsort(-sizes, kind="stable"):
            preference = np.argsort(np.abs(np.log(sizes[k] / anchors)), kind="stable")
            free = [a for a in preference if objectness[image, rows[k], cols[k], a] == 0]
            if not free:
                unassigned += 1
                continue
            where = (image, rows[k], cols[k], free[0])
            objectness[where] = 1
            labels[where] = target_labels[k]
            boxes[where] = target_boxes[k]
    return DenseTargets(objectness, labels, boxes, stride, anchors, unassigned)


# ----------------------------------------------------------------------------------------------
# Boxes: raw head values <-> corners in pixels


def _check_box_rows(raw, cells, anchor_sizes, name):
    raw = check.as_float_array(raw, name)
    if raw.ndim != 2 or raw.shape[1] != 4:
        raise ValueError(f"{name} must have shape (K, 4); got {raw.shape}")
    cells = np.asarray(cells)
    if cells.shape != (len(raw), 2):
        raise ValueError(f"cells must have shape ({len(raw)}, 2), rows (grid row, grid column); got {cells.shape}")
    anchor_sizes = check.as_float_array(anchor_sizes, "anchor_sizes")
    if anchor_sizes.shape != (len(raw),):
        raise ValueError(f"anchor_sizes must have shape ({len(raw)},); got {anchor_sizes.shape}")
    return raw, cells, anchor_sizes


def decode_boxes(raw, cells, anchor_sizes, stride=DEFAULT_STRIDE):
    r"""Corners ``(x1, y1, x2, y2)`` in pixels from the raw box values of K predictions.

    Parameters
    ----------
    raw : array_like, shape (K, 4)
        :math:`(t_x, t_y, t_w, t_h)`.
    cells : array_like of int, shape (K, 2)
        Each prediction's (grid row i, grid column j).
    anchor_sizes : array_like, shape (K,)
        Each prediction's anchor size a, in pixels.
    stride : float, default 8

    Returns
    -------
    numpy.ndarray, shape (K, 4)
        Centre :math:`(s(j + \sigma(t_x)),\ s(i + \sigma(t_y)))`, size :math:`(a e^{t_w}, a e^{t_h})`.

    Examples
    --------
    >>> from lossbook.dense import decode_boxes
    >>> decode_boxes([[0.0, 0.0, 0.0, 0.0]], [[1, 2]], [8.0])  # centre of cell (1, 2); the anchor's size
    array([[16., 8., 24., 16.]])
    """
    raw, cells, anchor_sizes = _check_box_rows(raw, cells, anchor_sizes, "raw")
    centre_x = stride * (cells[:, 1] + sigmoid(raw[:, 0]))
    centre_y = stride * (cells[:, 0] + sigmoid(raw[:, 1]))
    half_w, half_h = anchor_sizes * np.exp(raw[:, 2]) / 2, anchor_sizes * np.exp(raw[:, 3]) / 2
    return np.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], axis=1)


def decode_boxes_backward(raw, cells, anchor_sizes, grad_corners, stride=DEFAULT_STRIDE):
    r"""Chain rule through :func:`decode_boxes`: the gradient with respect to the raw values.

    With :math:`g = \partial L / \partial (x_1, y_1, x_2, y_2)`, :math:`c_x = (x_1 + x_2)/2` and
    :math:`w = x_2 - x_1`, so :math:`\partial L / \partial c_x = g_{x_1} + g_{x_2}` and
    :math:`\partial L / \partial w = (g_{x_2} - g_{x_1}) / 2`; then

    .. math:: \frac{\partial L}{\partial t_x} = s\,\sigma(t_x)(1 - \sigma(t_x))\,(g_{x_1} + g_{x_2}),
              \qquad \frac{\partial L}{\partial t_w} = w\,\tfrac12 (g_{x_2} - g_{x_1}),

    since :math:`dw/dt_w = a e^{t_w} = w`; the same in y.

    Examples
    --------
    >>> from lossbook.dense import decode_boxes_backward
    >>> decode_boxes_backward([[0.0, 0.0, 0.0, 0.0]], [[1, 2]], [8.0], [[0.0, 0.0, 1.0, 0.0]])  # d x2
    array([[2., 0., 4., 0.]])
    """
    raw, cells, anchor_sizes = _check_box_rows(raw, cells, anchor_sizes, "raw")
    grad_corners = check.as_float_array(grad_corners, "grad_corners")
    if grad_corners.shape != raw.shape:
        raise ValueError(f"grad_corners must have the shape of raw {raw.shape}; got {grad_corners.shape}")
    gx1, gy1, gx2, gy2 = grad_corners.T
    sx, sy = sigmoid(raw[:, 0]), sigmoid(raw[:, 1])
    width, height = anchor_sizes * np.exp(raw[:, 2]), anchor_sizes * np.exp(raw[:, 3])
    return np.stack([
        stride * sx * (1 - sx) * (gx1 + gx2),
        stride * sy * (1 - sy) * (gy1 + gy2),
        width * (gx2 - gx1) / 2,
        height * (gy2 - gy1) / 2,
    ], axis=1)


def encode_boxes(boxes, cells, anchor_sizes, stride=DEFAULT_STRIDE):
    r"""The encoded targets :math:`(c_x/s - j,\ c_y/s - i,\ \log(w/a),\ \log(h/a))` of boxes in pixels.

    The first two lie in [0, 1] (the centre's place in its cell); a prediction's
    :math:`(\sigma(t_x), \sigma(t_y), t_w, t_h)` (:func:`encoded_predictions`) is compared with them.

    Examples
    --------
    >>> from lossbook.dense import encode_boxes
    >>> encode_boxes([[16.0, 8.0, 24.0, 16.0]], [[1, 2]], [8.0])  # the box decode_boxes gives for 0, 0, 0, 0
    array([[0.5, 0.5, 0. , 0. ]])
    """
    boxes, cells, anchor_sizes = _check_box_rows(boxes, cells, anchor_sizes, "boxes")
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.stack([
        centre_x / stride - cells[:, 1],
        centre_y / stride - cells[:, 0],
        np.log(width / anchor_sizes),
        np.log(height / anchor_sizes),
    ], axis=1)


def encoded_predictions(raw):
    r""":math:`(\sigma(t_x), \sigma(t_y), t_w, t_h)`: raw box values in the units of :func:`encode_boxes`."""
    raw = check.as_float_array(raw, "raw")
    return np.concatenate([sigmoid(raw[:, :2]), raw[:, 2:]], axis=1)


# ----------------------------------------------------------------------------------------------
# The dense loss


@dataclass
class LossOptions:
    """The choice of loss for each of the three terms, and their settings (see :func:`dense_loss`)."""

    objectness: str = "bce"
    classes: str = "softmax"
    boxes: str = "giou"
    weights: dict = None
    alpha: float = 0.25
    gamma: float = 2.0
    beta: float = DEFAULT_BETA

    def __post_init__(self):
        for name, allowed in (("objectness", OBJECTNESS_LOSSES), ("classes", CLASS_LOSSES), ("boxes", BOX_LOSSES)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
        self.weights = _resolve_weights(self.weights, DEFAULT_WEIGHTS)
        self.alpha = check.check_real_number(self.alpha, "alpha", at_most=1)
        self.gamma = check.check_nonnegative_number(self.gamma, "gamma")
        self.beta = check.check_nonnegative_number(self.beta, "beta")


def _check_outputs(outputs, assigned):
    outputs = check.as_float_array(outputs, "outputs")
    if not isinstance(assigned, DenseTargets):
        raise TypeError(f"assigned must be the DenseTargets of assign_targets; got {type(assigned).__name__}")
    expected = assigned.objectness.shape
    if outputs.ndim != 5 or outputs.shape[:4] != expected or outputs.shape[4] < 6:
        raise ValueError(f"outputs must have shape (N, G, G, A, 4 + 1 + C) = ({', '.join(map(str, expected))}, "
                         f"5 + C) with C >= 1, to match the assigned targets; got {outputs.shape}")
    num_classes = outputs.shape[4] - 5
    if assigned.labels.max(initial=0) >= num_classes:
        raise ValueError(f"the targets hold class {assigned.labels.max()}, but outputs has only {num_classes} classes")
    return outputs


def _objectness_term(logits, target, options, with_grad):
    """The objectness loss summed over every prediction (and its gradient), by the chosen loss."""
    if options.objectness == "focal":
        kw = {"alpha": options.alpha, "gamma": options.gamma, "reduction": "sum"}
        value = sigmoid_focal_loss(logits, target, **kw)
        return value, sigmoid_focal_loss_grad(logits, target, **kw) if with_grad else None
    pos_weight = None
    if options.objectness == "bce_pos_weight":
        # PyTorch's recipe: pos_weight = negatives / positives, here those of the batch.
        positives = target.sum()
        pos_weight = np.asarray((target.size - positives) / max(positives, 1), dtype=logits.dtype)
    kw = {"pos_weight": pos_weight, "reduction": "sum"}
    value = binary_cross_entropy_with_logits(logits, target, **kw)
    return value, binary_cross_entropy_with_logits_grad(logits, target, **kw) if with_grad else None


def _class_term(logits, labels, options, with_grad):
    """The class loss summed over the positives (and its gradient): softmax CE or one BCE per class."""
    if options.classes == "softmax":
        value = cross_entropy(logits, labels, reduction="sum")
        return value, cross_entropy_grad(logits, labels, reduction="sum") if with_grad else None
    one_hot = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    value = binary_cross_entropy_with_logits(logits, one_hot, reduction="sum")
    return value, binary_cross_entropy_with_logits_grad(logits, one_hot, reduction="sum") if with_grad else None


def _box_term(raw, boxes, cells, anchor_sizes, stride, options, with_grad):
    """The box loss summed over the positives (and its gradient with respect to the raw values)."""
    if options.boxes == "smooth_l1":
        encoded, target = encoded_predictions(raw), encode_boxes(boxes, cells, anchor_sizes, stride).astype(raw.dtype)
        value = smooth_l1_loss(encoded, target, beta=options.beta, reduction="sum")
        if not with_grad:
            return value, None
        grad_encoded = smooth_l1_loss_grad(encoded, target, beta=options.beta, reduction="sum")
        grad_encoded[:, :2] *= encoded[:, :2] * (1 - encoded[:, :2])  # through the sigmoid of t_x, t_y
        return value, grad_encoded
    loss, loss_grad = {
        "giou": (generalized_box_iou_loss, generalized_box_iou_loss_grad),
        "ciou": (complete_box_iou_loss, complete_box_iou_loss_grad),
    }[options.boxes]
    corners, target = decode_boxes(raw, cells, anchor_sizes, stride), boxes.astype(raw.dtype)
    value = loss(corners, target, reduction="sum")
    if not with_grad:
        return value, None
    return value, decode_boxes_backward(raw, cells, anchor_sizes, loss_grad(corners, target, reduction="sum"), stride)


def _terms_and_grad(outputs, assigned, options, with_grad=True):
    positive = assigned.positive
    count = max(1, int(positive.sum()))  # a batch without objects still learns objectness (divided by 1)
    cells, anchor_sizes = assigned.positive_geometry()
    target = assigned.objectness.astype(outputs.dtype)
    objectness, grad_objectness = _objectness_term(outputs[..., OBJECTNESS], target, options, with_grad)
    terms = {"objectness": float(objectness) / count, "class": 0.0, "box": 0.0}
    grad = np.zeros_like(outputs) if with_grad else None
    if with_grad:
        grad[..., OBJECTNESS] = options.weights["objectness"] * grad_objectness / count
    if positive.any():
        chosen = outputs[positive]  # (K, 5 + C), in the order of positive_geometry
        class_value, grad_class = _class_term(chosen[:, CLASSES], assigned.labels[positive], options, with_grad)
        box_value, grad_box = _box_term(chosen[:, BOX], assigned.boxes[positive], cells, anchor_sizes,
                                        assigned.stride, options, with_grad)
        terms["class"], terms["box"] = float(class_value) / count, float(box_value) / count
        if with_grad:
            grad_chosen = np.zeros_like(chosen)
            grad_chosen[:, CLASSES] = options.weights["class"] * grad_class / count
            grad_chosen[:, BOX] = options.weights["box"] * grad_box / count
            grad[positive] += grad_chosen  # the objectness column of these rows is already set
    return terms, grad


def dense_loss_terms(outputs, assigned, **options):
    """The three unweighted terms of :func:`dense_loss`, as a dict of floats ``objectness``, ``class``, ``box``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.dense import assign_targets, dense_loss_terms
    >>> assigned = assign_targets([{"boxes": np.array([[8.0, 8.0, 16.0, 16.0]]), "labels": np.array([0])}], 8)
    >>> outputs = np.zeros((1, 8, 8, 3, 8))  # every logit 0: the box is the anchor, centred in its cell
    >>> terms = dense_loss_terms(outputs, assigned)
    >>> {name: round(value, 4) for name, value in terms.items()}  # 192 log 2; log 3; a perfect box
    {'objectness': 133.0843, 'class': 1.0986, 'box': 0.0}
    """
    options = LossOptions(**options)
    outputs = _check_outputs(outputs, assigned)
    return _terms_and_grad(outputs, assigned, options, with_grad=False)[0]


def dense_loss(outputs, assigned, **options):
    r"""The dense detector's loss: objectness over every prediction, class and box over the positives.

    Parameters
    ----------
    outputs : array_like, shape (N, G, G, A, 4 + 1 + C)
        The head's outputs: raw box values, objectness logit, C class logits, per prediction.
    assigned : DenseTargets
        From :func:`assign_targets`.
    objectness : {"bce", "bce_pos_weight", "focal"}, default "bce", keyword-only
        :func:`~lossbook.binary.binary_cross_entropy_with_logits`; the same with ``pos_weight`` equal to
        the batch's ratio of negatives to positives (PyTorch's recipe); or
        :func:`~lossbook.binary.sigmoid_focal_loss` with `alpha` and `gamma`.
    classes : {"softmax", "sigmoid"}, default "softmax", keyword-only
        :func:`~lossbook.classification.cross_entropy` over the C logits, or an independent binary
        cross-entropy per class against the one-hot label (YOLOv3).
    boxes : {"smooth_l1", "giou", "ciou"}, default "giou", keyword-only
        :func:`~lossbook.regression.smooth_l1_loss` (with `beta`) between encoded predictions and
        encoded targets; :func:`~lossbook.boxes.generalized_box_iou_loss` or
        :func:`~lossbook.boxes.complete_box_iou_loss` between decoded corners and target corners.
    weights : dict, optional, keyword-only
        Weights of ``"objectness"``, ``"class"`` and ``"box"``; missing keys keep :data:`DEFAULT_WEIGHTS`.
    alpha, gamma : float, default 0.25 and 2, keyword-only
        Focal loss's settings (Lin et al., 2017).
    beta : float, default :data:`DEFAULT_BETA`, keyword-only

    Returns
    -------
    float
        :math:`L = (\omega_\text{obj} \sum_\text{all} \ell_\text{obj} + \omega_\text{cls} \sum_\text{pos}
        \ell_\text{cls} + \omega_\text{box} \sum_\text{pos} \ell_\text{box}) / \max(1, K)`, with K the
        number of positives in the batch.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.dense import assign_targets, dense_loss
    >>> assigned = assign_targets([{"boxes": np.array([[8.0, 8.0, 16.0, 16.0]]), "labels": np.array([0])}], 8)
    >>> outputs = np.zeros((1, 8, 8, 3, 8))
    >>> # focal: alpha_t (1/2)^2 log 2 per prediction, alpha_t = 0.25 for the positive, 0.75 for 191 negatives
    >>> round(float(dense_loss(outputs, assigned, objectness="focal")), 4)  # plus log 3 for the class
    25.9653
    """
    options = LossOptions(**options)
    outputs = _check_outputs(outputs, assigned)
    terms, _ = _terms_and_grad(outputs, assigned, options, with_grad=False)
    return check.to_output(sum(options.weights[name] * terms[name] for name in TERMS), outputs.dtype)


def dense_loss_grad(outputs, assigned, **options):
    r"""Gradient of :func:`dense_loss` with respect to `outputs`, shaped like it.

    Notes
    -----
    The objectness column takes the gradient of its loss at every prediction; the class and box
    columns only at the positives, from the ``_grad`` twins, the box columns through
    :func:`decode_boxes_backward` (IoU losses) or the sigmoid of the centre offsets (smooth L1).
    With ``boxes="ciou"`` the box gradient is torchvision's, which holds CIoU's trade-off factor
    :math:`\alpha` constant (:func:`~lossbook.boxes.complete_box_iou_loss_grad`): it is not the exact
    derivative of the loss value.
    """
    options = LossOptions(**options)
    outputs = _check_outputs(outputs, assigned)
    return _terms_and_grad(outputs, assigned, options)[1]


def dense_loss_terms_and_grad(outputs, assigned, options):
    """The loss, its three unweighted terms and its gradient from one pass, for a training step.

    `options` is a :class:`LossOptions`.
    """
    outputs = _check_outputs(outputs, assigned)
    terms, grad = _terms_and_grad(outputs, assigned, options)
    return sum(options.weights[name] * terms[name] for name in TERMS), terms, grad


# ----------------------------------------------------------------------------------------------
# From outputs to detections


def postprocess(
    outputs,
    *,
    stride=DEFAULT_STRIDE,
    anchors=DEFAULT_ANCHORS,
    classes="softmax",
    score_threshold=0.05,
    iou_threshold=0.5,
    max_detections=100,
):
    r"""Detections per image from the head's outputs: decode, score, threshold, per-class NMS, keep the best.

    Each prediction proposes one box, of its most likely class, with score
    :math:`\sigma(z_\text{obj}) \cdot p(\text{class})`, where :math:`p` is the softmax of the class
    logits or (``classes="sigmoid"``) the sigmoid of each. Boxes are clipped to the image. Those
    scoring at least `score_threshold` go through :func:`~lossbook.boxes.batched_nms` with the class
    as category, and the best `max_detections` are kept.

    Parameters
    ----------
    outputs : array_like, shape (N, G, G, A, 4 + 1 + C)
    stride, anchors : as in :func:`assign_targets`, keyword-only
    classes : {"softmax", "sigmoid"}, default "softmax", keyword-only
        How the class logits were trained.
    score_threshold : float, default 0.05, keyword-only
    iou_threshold : float, default 0.5, keyword-only
    max_detections : int, default 100, keyword-only

    Returns
    -------
    list of dict
        One per image, torchmetrics' format: ``"boxes"`` (M, 4) corners in pixels, ``"scores"`` (M,)
        in decreasing order, ``"labels"`` (M,) int64.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.dense import postprocess
    >>> outputs = np.full((1, 8, 8, 3, 8), -10.0)  # nothing anywhere ...
    >>> outputs[0, 1, 2, 0, :5] = [0.0, 0.0, 0.0, 0.0, 10.0]  # ... but an object in cell (1, 2)
    >>> outputs[0, 1, 2, 0, 5:] = [0.0, 5.0, 0.0]
    >>> detections = postprocess(outputs)[0]
    >>> detections["boxes"], detections["scores"].round(4), detections["labels"]
    (array([[16., 8., 24., 16.]]), array([0.9867]), array([1]))
    """
    outputs = check.as_float_array(outputs, "outputs")
    if outputs.ndim != 5 or outputs.shape[4] < 6 or outputs.shape[1] != outputs.shape[2]:
        raise ValueError(f"outputs must have shape (N, G, G, A, 4 + 1 + C) with C >= 1; got {outputs.shape}")
    stride, anchors = _check_geometry(stride, anchors)
    if len(anchors) != outputs.shape[3]:
        raise ValueError(f"outputs has {outputs.shape[3]} anchors per cell but anchors lists {len(anchors)}")
    if classes not in CLASS_LOSSES:
        raise ValueError(f"classes must be one of {CLASS_LOSSES}; got {classes!r}")
    score_threshold = check.check_real_number(score_threshold, "score_threshold", at_least=0, at_most=1)
    max_detections = check.check_integer(max_detections, "max_detections")
    if max_detections < 1:
        raise ValueError(f"max_detections must be >= 1; got {max_detections}")
    n, grid = outputs.shape[0], outputs.shape[1]
    rows, cols, anchor = np.meshgrid(np.arange(grid), np.arange(grid), np.arange(len(anchors)), indexing="ij")
    cells = np.stack([rows.ravel(), cols.ravel()], axis=1)
    anchor_sizes = anchors[anchor.ravel()]
    flat = outputs.reshape(n, -1, outputs.shape[4])
    detections = []
    for image in flat:
        probs = softmax(image[:, CLASSES], axis=1) if classes == "softmax" else sigmoid(image[:, CLASSES])
        labels = np.argmax(probs, axis=1)
        scores = sigmoid(image[:, OBJECTNESS]) * probs[np.arange(len(image)), labels]
        kept = np.flatnonzero(scores >= score_threshold)
        boxes = np.clip(decode_boxes(image[kept, BOX], cells[kept], anchor_sizes[kept], stride), 0, grid * stride)
        order = batched_nms(boxes, scores[kept], labels[kept], iou_threshold)[:max_detections]
        detections.append({"boxes": boxes[order], "scores": scores[kept][order], "labels": labels[kept][order]})
    return detections
