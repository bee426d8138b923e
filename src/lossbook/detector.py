r"""A one-cell object detector: the head ``output = C + 1 + 4``, its multi-task loss, training and metrics.

The network looks at a whole image (one grid cell, in YOLO's terms) and outputs ``4 + 1 + C``
numbers, laid out as YOLO lays them out: four box values, one objectness logit, then C class
logits. (SSD instead folds the "+1" into the softmax as a background class, so its head outputs
C + 1 class scores and four box offsets.) The box values are decoded through a sigmoid into a
centre and a size, as fractions of the image side, and then into corners ``(x1, y1, x2, y2)``.

The loss adds four terms, each from the library:

- objectness: :func:`~lossbook.binary.binary_cross_entropy_with_logits` on every image (an empty image is
  a negative example, it has something to learn too);
- class: :func:`~lossbook.classification.cross_entropy` with ``ignore_index`` on the images that hold an object
  (an empty image has no class);
- box: :func:`~lossbook.regression.smooth_l1_loss` on the corners and
  :func:`~lossbook.boxes.generalized_box_iou_loss`, on the images that hold an object (an empty image has
  no box).

Its gradient with respect to the head's outputs is built from the library's ``_grad`` twins and the
chain rule through the sigmoid box parametrization (:func:`decode_boxes_backward`).
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from lossbook import _validation as check
from lossbook.binary import binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad
from lossbook.boxes import box_iou, generalized_box_iou_loss, generalized_box_iou_loss_grad
from lossbook.classification import cross_entropy, cross_entropy_grad
from lossbook.optim import Adam
from lossbook.regression import smooth_l1_loss, smooth_l1_loss_grad
from lossbook.shapes import IGNORE_INDEX, SHAPE_NAMES, make_shapes
from lossbook.stable import sigmoid, softmax

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
    >>> from lossbook.detector import decode_boxes
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
    >>> from lossbook.detector import decode_boxes_backward
    >>> decode_boxes_backward([[0.0, 0.0, 0.0, 0.0]], [[1.0, 0.0, 1.0, 0.0]])  # sigma'(0) = 1/4
    array([[0.5, 0. , 0. , 0. ]])
    """
    box_outputs = _check_box_outputs(box_outputs, "box_outputs")
    grad_corners = check.as_float_array(grad_corners, "grad_corners")
    if grad_corners.shape != box_outputs.shape:
        raise ValueError(f"grad_corners must have the shape of box_outputs {box_outputs.shape}; got {grad_corners.shape}")
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


def _resolve_weights(weights):
    """DEFAULT_WEIGHTS, with the entries of `weights` (a dict) replacing the defaults they name."""
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict with keys among {TERMS}; got {type(weights).__name__}")
    if set(weights) - set(TERMS):
        raise ValueError(f"weights must have keys among {TERMS}; got {sorted(weights)}")
    merged = {**DEFAULT_WEIGHTS, **weights}
    return {term: check.check_nonnegative_number(merged[term], f"weights[{term!r}]") for term in TERMS}


def _terms(outputs, t, beta):
    """The four unweighted terms and the decoded boxes of the images with an object (None if none)."""
    objectness = binary_cross_entropy_with_logits(outputs[:, OBJECTNESS], t.has_object)
    count = len(t.boxes)
    if count == 0:  # no object in the batch: nothing to classify, no box to fit
        return {"objectness": objectness, "class": 0.0, "box": 0.0, "giou": 0.0}, None
    corners = decode_boxes(outputs[t.present, BOX])
    return {
        "objectness": objectness,
        "class": cross_entropy(outputs[:, CLASSES], t.class_target),  # the mean skips ignored images
        "box": smooth_l1_loss(corners, t.boxes, reduction="sum", beta=beta) / count,  # per box
        "giou": generalized_box_iou_loss(corners, t.boxes, reduction="mean"),
    }, corners


def detection_loss_terms(outputs, has_object, labels, boxes, beta=DEFAULT_BETA):
    r"""The four unweighted terms of :func:`detection_loss`, as a dict of floats.

    Keys ``"objectness"``, ``"class"``, ``"box"`` and ``"giou"``; see :func:`detection_loss`. In a
    batch without any object the last three are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detector import detection_loss_terms
    >>> outputs = np.zeros((2, 8))  # the head of an untrained network: every logit 0
    >>> terms = detection_loss_terms(outputs, [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4])
    >>> {name: round(value, 4) for name, value in terms.items()}  # log 2, log 3, a perfect box
    {'objectness': 0.6931, 'class': 1.0986, 'box': 0.0, 'giou': 0.0}
    """
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    return {name: float(value) for name, value in _terms(outputs, t, beta)[0].items()}


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
              + \lambda_{\text{box}} \frac{1}{K} \sum_{n:\, o_n = 1} \sum_{j=1}^{4} \operatorname{smooth}_{L1}(\hat b_{nj} - b_{nj})
              + \lambda_{\text{giou}} \frac{1}{K} \sum_{n:\, o_n = 1} \bigl(1 - \operatorname{GIoU}(\hat b_n, b_n)\bigr).

    Objectness is learned from every image; class and box only from images that hold an object,
    since an empty image has neither. With :math:`K = 0` the last three terms are 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detector import detection_loss
    >>> outputs = np.zeros((2, 8))
    >>> float(detection_loss(outputs, [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4]).round(4))
    1.7918
    """
    weights = _resolve_weights(weights)
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    terms, _ = _terms(outputs, t, beta)
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
    >>> from lossbook.detector import detection_loss_grad
    >>> grad = detection_loss_grad(np.zeros((2, 8)), [1, 0], [2, -100], [[0.25, 0.25, 0.75, 0.75], [np.nan] * 4])
    >>> grad.round(4)  # objectness: (sigmoid(0) - o) / N; classes: softmax - one-hot, first row only
    array([[ 0.    ,  0.    ,  0.    ,  0.    , -0.25  ,  0.3333,  0.3333, -0.6667],
           [ 0.    ,  0.    ,  0.    ,  0.    ,  0.25  ,  0.    ,  0.    ,  0.    ]])
    """
    weights = _resolve_weights(weights)
    outputs, t, beta = _prepare_loss(outputs, has_object, labels, boxes, beta)
    _, corners = _terms(outputs, t, beta)
    grad = np.zeros_like(outputs)
    grad[:, OBJECTNESS] = weights["objectness"] * binary_cross_entropy_with_logits_grad(
        outputs[:, OBJECTNESS], t.has_object
    )
    if corners is None:
        return grad
    count = len(corners)
    grad[:, CLASSES] = weights["class"] * cross_entropy_grad(outputs[:, CLASSES], t.class_target)
    grad_corners = (
        weights["box"] * smooth_l1_loss_grad(corners, t.boxes, reduction="sum", beta=beta) / count
        + weights["giou"] * generalized_box_iou_loss_grad(corners, t.boxes, reduction="mean")
    )
    grad[t.present, BOX] = decode_boxes_backward(outputs[t.present, BOX], grad_corners)
    return grad


# ----------------------------------------------------------------------------------------------
# The network


class Detector:
    r"""A multilayer perceptron with the ``4 + 1 + C`` head: flattened image, ReLU layers, 5 + C outputs.

    Parameters
    ----------
    n_pixels : int
        Inputs per image (1024 for 32 x 32 images).
    hidden : tuple of int
        Sizes of the hidden ReLU layers, e.g. (256, 128).
    num_classes : int
        C, the number of classes.
    rng : numpy.random.Generator
        Draws the initial weights: He's :math:`\mathcal{N}(0, 2 / \text{fan-in})` for the hidden layers,
        :math:`\mathcal{N}(0, 0.01 / \text{fan-in})` for the head, so that it starts close to 0 (every box the
        centred half-size box, objectness 1/2, uniform class probabilities). Biases start at 0.
    dtype : numpy dtype, default float32
        float32 trains about twice as fast; float64 for finite-difference checks.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detector import Detector
    >>> model = Detector(1024, (256, 128), 3, np.random.default_rng(0))
    >>> [(name, value.shape) for name, value in model.params.items()]  # doctest: +NORMALIZE_WHITESPACE
    [('W1', (1024, 256)), ('b1', (1, 256)), ('W2', (256, 128)), ('b2', (1, 128)),
     ('W3', (128, 8)), ('b3', (1, 8))]
    >>> outputs, _ = model.forward(np.zeros((5, 32, 32)))
    >>> outputs.shape  # 4 box values, 1 objectness logit, 3 class logits per image
    (5, 8)
    """

    def __init__(self, n_pixels, hidden, num_classes, rng, dtype=np.float32):
        n_pixels = check.check_integer(n_pixels, "n_pixels")
        num_classes = check.check_integer(num_classes, "num_classes")
        hidden = tuple(check.check_integer(h, "hidden") for h in hidden)
        if n_pixels < 1 or num_classes < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"n_pixels, num_classes and hidden sizes must be >= 1; got {n_pixels}, {num_classes}, {hidden}")
        self.num_classes = num_classes
        sizes = (n_pixels, *hidden, 4 + 1 + num_classes)
        self.params = {}
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            gain = 2.0 if layer < len(sizes) - 1 else 0.01
            self.params[f"W{layer}"] = (np.sqrt(gain / fan_in) * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{layer}"] = np.zeros((1, fan_out), dtype=dtype)
        self.layers = len(sizes) - 1

    def forward(self, images):
        """Head outputs (N, 4 + 1 + C) for images (N, H, W) or flattened (N, H * W), and a cache."""
        dtype = self.params["W1"].dtype
        x = np.asarray(images, dtype=dtype).reshape(len(images), -1)
        activations = [x]
        for layer in range(1, self.layers + 1):
            x = x @ self.params[f"W{layer}"] + self.params[f"b{layer}"]
            if layer < self.layers:
                x = np.maximum(x, 0)
            activations.append(x)
        return x, activations

    def backward(self, doutputs, activations):
        """Gradients of every parameter, given the gradient of the loss with respect to the outputs."""
        grads = {}
        delta = doutputs
        for layer in range(self.layers, 0, -1):
            below = activations[layer - 1]
            grads[f"W{layer}"] = below.T @ delta
            grads[f"b{layer}"] = delta.sum(axis=0, keepdims=True)
            if layer > 1:
                delta = delta @ self.params[f"W{layer}"].T
                delta[below <= 0] = 0  # ReLU passes gradient only where it was active
        return grads

    def loss_and_grads(self, images, has_object, labels, boxes, weights=None, beta=DEFAULT_BETA):
        """The multi-task loss of a batch, its unweighted terms, and the gradients of every parameter.

        Returns
        -------
        loss : float
        terms : dict
            The four unweighted terms (:func:`detection_loss_terms`).
        grads : dict
            One array per parameter, shaped like it.
        """
        outputs, cache = self.forward(images)
        terms = detection_loss_terms(outputs, has_object, labels, boxes, beta)
        loss = sum(weight * terms[name] for name, weight in _resolve_weights(weights).items())
        grads = self.backward(detection_loss_grad(outputs, has_object, labels, boxes, weights, beta), cache)
        return loss, terms, grads

    def predict(self, images):
        """Decoded predictions: objectness probability, class, class probabilities and box corners.

        Returns
        -------
        dict
            ``"objectness"`` (N,) in (0, 1); ``"label"`` (N,) int; ``"class_probs"`` (N, C);
            ``"boxes"`` (N, 4) corners as fractions of the image side.
        """
        outputs, _ = self.forward(images)
        return {
            "objectness": sigmoid(outputs[:, OBJECTNESS]),
            "label": np.argmax(outputs[:, CLASSES], axis=1),
            "class_probs": softmax(outputs[:, CLASSES], axis=1),
            "boxes": decode_boxes(outputs[:, BOX]),
        }


# ----------------------------------------------------------------------------------------------
# Metrics, training


def paired_iou(boxes1, boxes2, chunk=512):
    """IoU of row n of `boxes1` with row n of `boxes2` (the diagonal of :func:`~lossbook.boxes.box_iou`).

    Examples
    --------
    >>> from lossbook.detector import paired_iou
    >>> paired_iou([[0, 0, 2, 2], [0, 0, 1, 1]], [[1, 1, 3, 3], [0, 0, 1, 1]]).round(4)
    array([0.1429, 1.    ])
    """
    boxes1, boxes2 = np.asarray(boxes1, dtype=float), np.asarray(boxes2, dtype=float)
    if boxes1.shape != boxes2.shape:
        raise ValueError(f"boxes1 and boxes2 must pair up row by row; got shapes {boxes1.shape} and {boxes2.shape}")
    return np.concatenate(
        [np.diagonal(box_iou(boxes1[i : i + chunk], boxes2[i : i + chunk])) for i in range(0, len(boxes1), chunk)]
    )


def evaluate(model, images, has_object, labels, boxes):
    """Objectness accuracy over every image; class accuracy and mean IoU over the images with an object.

    An image counts as "object" when its objectness probability exceeds 1/2. Class accuracy and mean
    IoU use the predicted class and box of every image that holds an object, whatever its
    objectness, so they measure the C and the 4 of the head separately from the 1.

    Returns
    -------
    dict
        ``objectness_accuracy``, ``class_accuracy``, ``mean_iou`` (floats in [0, 1]).

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.detector import Detector, evaluate
    >>> from lossbook.shapes import make_shapes
    >>> data = make_shapes(100, np.random.default_rng(1))
    >>> untrained = Detector(1024, (32,), 3, np.random.default_rng(0))
    >>> sorted(evaluate(untrained, *data))
    ['class_accuracy', 'mean_iou', 'objectness_accuracy']
    """
    has_object = np.asarray(has_object)
    present = has_object == 1
    if not np.any(present):
        raise ValueError("has_object must flag at least one image with an object, for class accuracy and IoU")
    predicted = model.predict(images)
    return {
        "objectness_accuracy": float(np.mean((predicted["objectness"] > 0.5) == present)),
        "class_accuracy": float(np.mean(predicted["label"][present] == np.asarray(labels)[present])),
        "mean_iou": float(np.mean(paired_iou(predicted["boxes"][present], np.asarray(boxes)[present]))),
    }


def _lr_scale(epoch, epochs):
    """1 for the first half of the epochs, then down in equal steps to 1/10 at the last epoch."""
    half = (epochs + 1) // 2
    if epoch < half:
        return 1.0
    return 1.0 - 0.9 * (epoch + 1 - half) / (epochs - half)


@dataclass
class DetectionHistory:
    """The loss and its four unweighted terms at every step, and held-out metrics after every epoch."""

    loss: list = field(default_factory=list)
    terms: dict = field(default_factory=lambda: {name: [] for name in TERMS})
    test_metrics: dict = field(default_factory=dict)

    @property
    def steps(self):
        return len(self.loss)


@dataclass
class DetectionRun:
    """What :func:`train_detector` returns: the trained model, its history and its metrics."""

    model: Detector
    history: DetectionHistory
    metrics: dict


def train_detector(
    epochs=8,
    images_per_epoch=10_000,
    batch_size=100,
    lr=3e-3,
    seed=0,
    hidden=(256, 128),
    weights=None,
    beta=DEFAULT_BETA,
    n_test=2000,
    fresh_images=True,
    log=None,
    progress=None,
):
    """Train a :class:`Detector` on fresh shapes every epoch, with Adam, and evaluate it on held-out shapes.

    Everything random comes from ``np.random.default_rng(seed)``, in this order: the `n_test`
    held-out images, the initial weights, then each epoch's `images_per_epoch` training images
    (drawn fresh by default, so the network never sees an image twice and cannot memorise them) and
    their shuffling into batches. The learning rate is held for the first half of the epochs, then
    decays linearly to `lr` / 10.

    Parameters
    ----------
    epochs : int, default 8
    images_per_epoch : int, default 10000
    batch_size : int, default 100
    lr : float, default 3e-3
        Adam's learning rate (before the decay of the second half).
    seed : int, default 0
    hidden : tuple of int, default (256, 128)
        Hidden layer sizes of the network, so 1024-256-128-8 for 32 x 32 images and 3 classes.
    weights : dict, optional
        Loss weights, default :data:`DEFAULT_WEIGHTS`.
    beta : float, default :data:`DEFAULT_BETA`
    n_test : int, default 2000
        Held-out images for the metrics.
    fresh_images : bool, default True
        Draw new training images every epoch. False draws `images_per_epoch` images once and trains
        on them every epoch, in a new order each time (a fixed training set, which the network can
        memorise).
    log : callable, optional
        Called with one line of text after every epoch (mean training loss, held-out metrics).
    progress : callable, optional
        Called as ``progress(step, loss)`` after every step (the command line's progress bar); there
        are ``epochs * ceil(images_per_epoch / batch_size)`` steps.

    Returns
    -------
    DetectionRun
        ``.model``; ``.history`` (loss and terms per step, held-out metrics per epoch); ``.metrics``:
        ``train_loss`` (mean over the last epoch), ``objectness_accuracy``, ``class_accuracy``,
        ``mean_iou`` (held out), ``epochs``, ``steps``, ``seconds`` (wall time of the training loop).

    Examples
    --------
    >>> from lossbook.detector import train_detector
    >>> run = train_detector(epochs=1, images_per_epoch=500, hidden=(32,), n_test=200, seed=0)
    >>> sorted(run.metrics)  # doctest: +NORMALIZE_WHITESPACE
    ['class_accuracy', 'epochs', 'mean_iou', 'objectness_accuracy', 'seconds', 'steps', 'train_loss']
    >>> run.metrics["steps"], run.history.steps
    (5, 5)
    """
    epochs = check.check_integer(epochs, "epochs")
    images_per_epoch = check.check_integer(images_per_epoch, "images_per_epoch")
    batch_size = check.check_integer(batch_size, "batch_size")
    n_test = check.check_integer(n_test, "n_test")
    seed = check.check_integer(seed, "seed")
    if epochs < 1 or images_per_epoch < 1 or batch_size < 1 or n_test < 1:
        raise ValueError(
            f"epochs, images_per_epoch, batch_size and n_test must be >= 1; "
            f"got {epochs}, {images_per_epoch}, {batch_size}, {n_test}"
        )
    lr = check.check_nonnegative_number(lr, "lr")
    rng = np.random.default_rng(seed)
    test_data = make_shapes(n_test, rng)
    model = Detector(test_data[0][0].size, hidden, len(SHAPE_NAMES), rng)
    optimizer = Adam(lr)
    history = DetectionHistory()
    start = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        optimizer.lr = lr * _lr_scale(epoch, epochs)
        if fresh_images or epoch == 0:
            images, has_object, labels, boxes = make_shapes(images_per_epoch, rng)
        order = rng.permutation(images_per_epoch)
        epoch_losses = []
        for first in range(0, images_per_epoch, batch_size):
            batch = order[first : first + batch_size]
            loss, terms, grads = model.loss_and_grads(
                images[batch], has_object[batch], labels[batch], boxes[batch], weights, beta
            )
            optimizer.step(model.params, grads)
            history.loss.append(loss)
            for name in TERMS:
                history.terms[name].append(terms[name])
            epoch_losses.append(loss)
            if progress is not None:
                progress(step, loss)
            step += 1
        history.test_metrics[epoch + 1] = evaluate(model, *test_data)
        if log is not None:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in history.test_metrics[epoch + 1].items())
            log(f"epoch {epoch + 1}: training loss {np.mean(epoch_losses):.4f}; held out: {shown}")
    seconds = time.perf_counter() - start
    metrics = {
        "train_loss": float(np.mean(epoch_losses)),
        **history.test_metrics[epochs],
        "epochs": epochs,
        "steps": step,
        "seconds": seconds,
    }
    return DetectionRun(model, history, metrics)
