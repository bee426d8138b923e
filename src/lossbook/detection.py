r"""The loss of a one-cell object detector's ``4 + 1 + C`` head: box decoding, the multi-task loss and its gradient.

The head (one grid cell, in YOLO's terms) outputs ``4 + 1 + C`` numbers per image, laid out as YOLO
lays them out: four box values, one objectness logit, then C class logits. (SSD instead folds the
"+1" into the softmax as a background class, so its head outputs C + 1 class scores and four box
offsets.) The box values are decoded through a sigmoid into a centre and a size, as fractions of the
image side, and then into corners ``(x1, y1, x2, y2)``.

The loss adds four terms, each from the library:

- objectness: :func:`~lossbook.binary.binary_cross_entropy_with_logits` on every image (an empty image is
  a negative example, it has something to learn too);
- class: :func:`~lossbook.classification.cross_entropy` with ``ignore_index`` on the images that hold an object
  (an empty image has no class);
- box: :func:`~lossbook.regression.smooth_l1_loss` on the corners and
  :func:`~lossbook.boxes.generalized_box_iou_loss`, on the images that hold an object (an empty image has
  no box).

Its gradient with respect to the head's outputs is built from the library's ``_grad`` twins and the
chain rule through the sigmoid box parametrization (:func:`decode_boxes_backward`). The network that
produces the outputs is :class:`~lossbook.models.Detector`; its training loop is
:func:`~lossbook.training.train_detector`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from lossbook import _validation as check
from lossbook.binary import binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad
from lossbook.boxes import generalized_box_iou_loss, generalized_box_iou_loss_grad
from lossbook.classification import cross_entropy, cross_entropy_grad
from lossbook.regression import smooth_l1_loss, smooth_l1_loss_grad
from lossbook.stable import sigmoid

IGNORE_INDEX = -100
"""The class label of an image without an object: PyTorch's default ``ignore_index`` of
:func:`~lossbook.classification.cross_entropy`, which leaves such images out of the class term."""

BOX = slice(0, 4)
"""Columns of the head's output holding the four raw box values."""
OBJECTNESS = 4
"""Column of the head's output holding the objectness logit."""
CLASSES = slice(5, None)
"""Columns of the head's output holding the C class logits."""

DEFAULT_WEIGHTS = MappingProxyType({"objectness": 1.0, "class": 1.0, "box": 5.0, "giou": 1.0})
"""Weights of the four loss terms (see :func:`detection_loss`); read-only, pass your own dict to change them."""

DEFAULT_BETA = 0.05
"""Width of smooth L1's quadratic zone, in units of the image side (1.6 pixels on 32 x 32 images)."""

TERMS = ("objectness", "class", "box", "giou")


# ----------------------------------------------------------------------------------------------
# Boxes: raw head values <-> corners


def decode_boxes(box_outputs):
    r"""Turn the four raw box values of the head into corners ``(x1, y1, x2, y2)``.

    The raw values :math:`(t_x, t_y, t_w, t_h)` give the centre and the size through a sigmoid, so
    that both lie in (0, 1), as fractions of the image side:

    .. math:: c_x = \sigma(t_x),\quad c_y = \sigma(t_y),\quad w = \sigma(t_w),\quad h = \sigma(t_h),

    .. math:: (x_1, y_1, x_2, y_2) = (c_x - w/2,\ c_y - h/2,\ c_x + w/2,\ c_y + h/2).

    Parameters
    ----------
    box_outputs : array_like, shape (N, 4)

    Returns
    -------
    numpy.ndarray, shape (N, 4)
        Corners with ``x1 < x2`` and ``y1 < y2`` always (the sizes are positive).

    Examples
    --------
    >>> from lossbook.detection import decode_boxes
    >>> decode_boxes([[0.0, 0.0, 0.0, 0.0]])  # centre (0.5, 0.5), size 0.5
    array([[0.25, 0.25, 0.75, 0.75]])
    """
    box_outputs = _check_box_outputs(box_outputs, "box_outputs")
    cx, cy, w, h = sigmoid(box_outputs).T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def decode_boxes_backward(box_outputs, grad_corners):
    r"""Chain rule through :func:`decode_boxes`: the gradient with respect to the raw box values.

    Given :math:`g = \partial L / \partial (x_1, y_1, x_2, y_2)`, with :math:`\sigma' = \sigma (1 - \sigma)`,

    .. math:: \frac{\partial L}{\partial t_x} = (g_{x_1} + g_{x_2})\, \sigma'(t_x), \qquad
              \frac{\partial L}{\partial t_w} = \tfrac12 (g_{x_2} - g_{x_1})\, \sigma'(t_w),

    and the same in y.

    Parameters
    ----------
    box_outputs : array_like, shape (N, 4)
    grad_corners : array_like, shape (N, 4)

    Returns
    -------
    numpy.ndarray, shape (N, 4)

    Examples
    --------
    >>> from lossbook.detection import decode_boxes_backward
    >>> decode_boxes_backward([[0.0, 0.0, 0.0, 0.0]], [[1.0, 0.0, 1.0, 0.0]])  # sigma'(0) = 1/4
    array([[0.5, 0. , 0. , 0. ]])
    """
    box_outputs = _check_box_outputs(box_outputs, "box_outputs")
    grad_corners = check.as_float_array(grad_corners, "grad_corners")
    if grad_corners.shape != box_outputs.shape:
        raise ValueError(
            f"grad_corners must have the shape of box_outputs {box_outputs.shape}; got {grad_corners.shape}"
        )
    s = sigmoid(box_outputs)
    gx1, gy1, gx2, gy2 = grad_corners.T
    grad_decoded = np.stack([gx1 + gx2, gy1 + gy2, (gx2 - gx1) / 2, (gy2 - gy1) / 2], axis=1)
    return grad_decoded * s * (1 - s)


def _check_box_outputs(x, name):
    x = check.as_float_array(x, name)
    if x.ndim != 2 or x.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4); got {x.shape}")
    return x


# ----------------------------------------------------------------------------------------------
# The multi-task loss


@dataclass
class _Targets:
    has_object: np.ndarray  # (N,) 0.0 or 1.0, in the dtype of the outputs: the objectness targets
    class_target: np.ndarray  # (N,) class index where an object is, IGNORE_INDEX where the image is empty
    present: np.ndarray  # (N,) True where the image holds an object
    boxes: np.ndarray  # (K, 4) the target boxes of the K images that hold an object


def _prepare_loss(outputs, has_object, labels, boxes, beta):
    outputs = check.as_float_array(outputs, "outputs")
    if outputs.ndim != 2 or outputs.shape[1] < 6:
        raise ValueError(
            f"outputs must have shape (N, 4 + 1 + C) with C >= 1: 4 box values, 1 objectness logit, "
            f"C class logits; got {outputs.shape}"
        )
    n, num_classes = len(outputs), outputs.shape[1] - 5
    if n == 0:
        raise ValueError("outputs holds an empty batch; the loss of nothing is undefined")
    has_object = np.asarray(has_object)
    if has_object.shape != (n,):
        raise ValueError(f"has_object must have shape ({n},), one flag per image; got {has_object.shape}")
    if not np.all((has_object == 0) | (has_object == 1)):
        raise ValueError("has_object must hold 0 (empty image) or 1 (an object)")
    present = has_object == 1
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one class index per image; got {labels.shape}")
    if labels.dtype.kind not in "iuf":
        raise TypeError(f"labels must hold integer class indices; got dtype {labels.dtype}")
    wanted = labels[present]
    if not np.all((wanted == np.round(wanted)) & (wanted >= 0) & (wanted < num_classes)):
        raise ValueError(f"labels must be class indices in [0, {num_classes}) where has_object is 1")
    boxes = check.as_float_array(boxes, "boxes")
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4), rows (x1, y1, x2, y2); got {boxes.shape}")
    if not np.all(np.isfinite(boxes[present])):
        raise ValueError("boxes must be finite in every row where has_object is 1")
    beta = check.check_nonnegative_number(beta, "beta")
    # The label of an empty image is ignored whatever it holds (the data set stores -100).
    class_target = np.where(present, labels, IGNORE_INDEX).astype(np.int64)
    targets = _Targets(has_object.astype(outputs.dtype), class_target, present, boxes[present].astype(outputs.dtype))
    return outputs, targets, beta


def _resolve_weights(weights, defaults=DEFAULT_WEIGHTS):
    """`defaults`, with the entries of `weights` (a dict) replacing the defaults they name.

    The keys of `defaults` are the loss's terms, in order; :mod:`lossbook.dense` passes its own.
    """
    terms = tuple(defaults)
    if weights is None:
        return dict(defaults)
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict with keys among {terms}; got {type(weights).__name__}")
    if set(weights) - set(terms):
        raise ValueError(f"weights must have keys among {terms}; got {sorted(weights)}")
    merged = {**defaults, **weights}
    return {term: check.check_nonnegative_number(merged[term], f"weights[{term!r}]") for term in terms}


def _terms(outputs, t, beta):
    """The four unweighted terms, from outputs and targets already checked by :func:`_prepare_loss`."""
    objectness = binary_cross_entropy_with_logits(outputs[:, OBJECTNESS], t.has_object)
    count = len(t.boxes)
    if count == 0:  # no object in the batch: nothing to classify, no box to fit
        return {"objectness": objectness, "class": 0.0, "box": 0.0, "giou": 0.0}
    corners = decode_boxes(outputs[t.present, BOX])
    return {
        "objectness": objectness,
        # The mean skips the ignored images, the empty ones.
        "class": cross_entropy(outputs[:, CLASSES], t.class_target, ignore_index=IGNORE_INDEX),
        "box": smooth_l1_loss(corners, t.boxes, reduction="sum", beta=beta) / count,  # per box
        "giou": generalized_box_iou_loss(corners, t.boxes, reduction="mean"),
    }


def detection_loss_terms(outputs, has_object, labels, boxes, beta=DEFAULT_BETA):
    r"""The four unweighted terms of :func:`detection_loss`, as a dict of floats.

    Keys ``"objectness"``, ``"class"``, ``"box"`` and ``"giou"``; see :func:`detection_loss`. In a
    batch without any object the last three are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detection import detection_loss_terms
    >>> outputs = np.zeros((2, 8))  # the head of an untrained network: every logit 0
    >>> terms = detection_loss_terms(outputs, [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4])
    >>> {name: round(value, 4) for name, value in terms.items()}  # log 2, log 3, a perfect box
    {'objectness': 0.6931, 'class': 1.0986, 'box': 0.0, 'giou': 0.0}
    """
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    return {name: float(value) for name, value in _terms(outputs, t, beta).items()}


def detection_loss(outputs, has_object, labels, boxes, weights=None, beta=DEFAULT_BETA):
    r"""The multi-task loss of the ``4 + 1 + C`` head: objectness, class and box terms, weighted.

    Parameters
    ----------
    outputs : array_like, shape (N, 4 + 1 + C)
        The head's outputs: raw box values (decoded by :func:`decode_boxes`), the objectness logit,
        then C class logits.
    has_object : array_like, shape (N,)
        1 where image n holds an object, 0 where it is empty.
    labels : array_like of int, shape (N,)
        Class of each object in [0, C); ignored where `has_object` is 0 (the data set stores -100).
    boxes : array_like, shape (N, 4)
        Target corners ``(x1, y1, x2, y2)`` as fractions of the image side; ignored (may be NaN)
        where `has_object` is 0.
    weights : dict, optional
        Weights of the terms ``"objectness"``, ``"class"``, ``"box"`` and ``"giou"``; a key left out
        keeps its value in :data:`DEFAULT_WEIGHTS` (so ``{"giou": 0}`` drops the GIoU term only).
    beta : float, default :data:`DEFAULT_BETA`
        Smooth L1's quadratic zone, in units of the image side.

    Returns
    -------
    float
        The weighted sum; the same dtype as `outputs`.

    Notes
    -----
    With :math:`o_n \in \{0, 1\}` the objectness target, :math:`K = \sum_n o_n` the number of images
    holding an object, :math:`\hat b_n` the decoded box and :math:`b_n` the target box,

    .. math:: L = \lambda_{\text{obj}} \frac{1}{N} \sum_{n} \operatorname{BCE}(z_n, o_n)
              + \lambda_{\text{cls}} \frac{1}{K} \sum_{n:\, o_n = 1} \operatorname{CE}(s_n, y_n)
              + \lambda_{\text{box}} \frac{1}{K} \sum_{n:\, o_n = 1} \sum_{j=1}^{4}
                \operatorname{smooth}_{L1}(\hat b_{nj} - b_{nj})
              + \lambda_{\text{giou}} \frac{1}{K} \sum_{n:\, o_n = 1}
                \bigl(1 - \operatorname{GIoU}(\hat b_n, b_n)\bigr).

    Objectness is learned from every image; class and box only from images that hold an object,
    since an empty image has neither. With :math:`K = 0` the last three terms are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detection import detection_loss
    >>> outputs = np.zeros((2, 8))
    >>> float(detection_loss(outputs, [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4]).round(4))
    1.7918
    """
    weights = _resolve_weights(weights)
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    terms = _terms(outputs, t, beta)
    return check.to_output(sum(weights[name] * terms[name] for name in TERMS), outputs.dtype)


def detection_loss_grad(outputs, has_object, labels, boxes, weights=None, beta=DEFAULT_BETA):
    r"""Gradient of :func:`detection_loss` with respect to `outputs`, shape (N, 4 + 1 + C).

    Notes
    -----
    Each column block takes its gradient from its own term: the objectness column from
    :func:`~lossbook.binary.binary_cross_entropy_with_logits_grad` (every row), the class columns from
    :func:`~lossbook.classification.cross_entropy_grad` (zero in the rows of empty images, which it ignores), the box
    columns from :func:`~lossbook.regression.smooth_l1_loss_grad` and
    :func:`~lossbook.boxes.generalized_box_iou_loss_grad` with respect to the corners, carried back to the
    raw values by :func:`decode_boxes_backward` (zero in the rows of empty images).

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detection import detection_loss_grad
    >>> grad = detection_loss_grad(np.zeros((2, 8)), [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4])
    >>> grad.round(4)  # objectness: (sigmoid(0) - o) / N; classes: softmax - one-hot, first row only
    array([[ 0.    ,  0.    ,  0.    ,  0.    , -0.25  ,  0.3333,  0.3333, -0.6667],
           [ 0.    ,  0.    ,  0.    ,  0.    ,  0.25  ,  0.    ,  0.    ,  0.    ]])
    """
    weights = _resolve_weights(weights)
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    return _loss_grad(outputs, t, weights, beta)


def _loss_grad(outputs, t, weights, beta):
    """The twin of :func:`_terms`: the gradient of the weighted sum of the four terms with respect to `outputs`."""
    grad = np.zeros_like(outputs)
    grad[:, OBJECTNESS] = weights["objectness"] * binary_cross_entropy_with_logits_grad(
        outputs[:, OBJECTNESS], t.has_object
    )
    count = len(t.boxes)
    if count == 0:  # no object in the batch: only objectness has a gradient
        return grad
    grad[:, CLASSES] = weights["class"] * cross_entropy_grad(
        outputs[:, CLASSES], t.class_target, ignore_index=IGNORE_INDEX
    )
    corners = decode_boxes(outputs[t.present, BOX])
    grad_corners = (
        weights["box"] * smooth_l1_loss_grad(corners, t.boxes, reduction="sum", beta=beta) / count
        + weights["giou"] * generalized_box_iou_loss_grad(corners, t.boxes, reduction="mean")
    )
    grad[t.present, BOX] = decode_boxes_backward(outputs[t.present, BOX], grad_corners)
    return grad


def _loss_terms_and_grad(outputs, has_object, labels, boxes, weights=None, beta=DEFAULT_BETA):
    """The loss, its four unweighted terms and its gradient from one check of the input, for a training step.

    Returns what :func:`detection_loss` (as a Python float summed from the terms),
    :func:`detection_loss_terms` and :func:`detection_loss_grad` return.
    """
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    weights = _resolve_weights(weights)
    terms = {name: float(value) for name, value in _terms(outputs, t, beta).items()}
    loss = sum(weight * terms[name] for name, weight in weights.items())
    return loss, terms, _loss_grad(outputs, t, weights, beta)
