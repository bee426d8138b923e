r"""Models trained with the library's losses: a linear softmax classifier, a two-layer ReLU network, two detectors.

Parameters live in a dict of arrays (``model.params``). ``forward`` returns the outputs and a cache
of what ``backward`` needs; ``backward`` turns the gradient of the loss with respect to the outputs
into gradients for every parameter. ``loss_and_grads`` puts it together. For the classifiers it is
cross-entropy of the scores plus the L2 penalty :math:`\lambda \sum W^2` on the weight matrices (not
the biases), through :func:`~lossbook.fused.cross_entropy_value_and_grad` (the loss and its
gradient from one softmax) and :func:`~lossbook.regularization.l2_penalty_grad`; for the
:class:`Detector` it is the multi-task loss of :mod:`lossbook.detection`, and for the
:class:`DenseDetector`, a small convolutional network (:mod:`lossbook.conv`), the dense loss of
:mod:`lossbook.dense`.
"""

import numpy as np

from lossbook import _validation as check
from lossbook.conv import conv2d_backward, conv2d_forward
from lossbook.dense import DEFAULT_ANCHORS, LossOptions, assign_targets, dense_loss_terms_and_grad, postprocess
from lossbook.detection import BOX, CLASSES, DEFAULT_BETA, OBJECTNESS, _loss_terms_and_grad, decode_boxes
from lossbook.fused import cross_entropy_value_and_grad
from lossbook.regularization import l2_penalty, l2_penalty_grad
from lossbook.stable import sigmoid, softmax


class Classifier:
    """Shared training interface; subclasses define ``params``, ``regularized``, ``forward``, ``backward``."""

    params: dict
    regularized: tuple

    def loss_and_grads(self, X, y, lam=0.0):
        """Mean cross-entropy plus ``lam * sum(W ** 2)`` over the weight matrices, and its gradients.

        Returns
        -------
        loss : float
        grads : dict
            One array per parameter, shaped like it.
        """
        scores, cache = self.forward(X)
        # One call for the value and the gradient: the softmax is computed once per step, not twice.
        data_loss, dscores = cross_entropy_value_and_grad(scores, y)
        loss = data_loss + sum(l2_penalty(self.params[name], lam) for name in self.regularized)
        grads = self.backward(dscores, cache)
        for name in self.regularized:
            grads[name] += l2_penalty_grad(self.params[name], lam)
        return float(loss), grads

    def predict(self, X):
        """The class with the largest score for each row of `X`."""
        return np.argmax(self.forward(X)[0], axis=1)

    def accuracy(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))


class LinearSoftmax(Classifier):
    r"""Softmax regression: scores :math:`XW + b`.

    Parameters
    ----------
    n_features, n_classes : int
    rng : numpy.random.Generator or RandomState
        Draws the initial weights, :math:`0.01 \cdot \mathcal{N}(0, 1)` as in CS231n; biases start at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.models import LinearSoftmax
    >>> model = LinearSoftmax(2, 3, np.random.default_rng(0))
    >>> loss, grads = model.loss_and_grads(np.ones((4, 2)), [0, 1, 2, 0], lam=1e-3)
    >>> sorted(grads), grads["W"].shape
    (['W', 'b'], (2, 3))
    """

    regularized = ("W",)

    def __init__(self, n_features, n_classes, rng, weight_scale=0.01):
        self.params = {
            "W": weight_scale * rng.standard_normal((n_features, n_classes)),
            "b": np.zeros((1, n_classes)),
        }

    def forward(self, X):
        X = np.asarray(X, dtype=float)
        scores = X @ self.params["W"] + self.params["b"]
        return scores, X

    def backward(self, dscores, X):
        return {"W": X.T @ dscores, "b": dscores.sum(axis=0, keepdims=True)}


class TwoLayerNet(Classifier):
    r"""A network with one hidden ReLU layer: scores :math:`\max(0, XW_1 + b_1) W_2 + b_2`.

    Parameters
    ----------
    n_features, n_hidden, n_classes : int
    rng : numpy.random.Generator or RandomState
        Draws :math:`W_1` then :math:`W_2` as :math:`0.01 \cdot \mathcal{N}(0, 1)`, as in CS231n.
    """

    regularized = ("W1", "W2")

    def __init__(self, n_features, n_hidden, n_classes, rng, weight_scale=0.01):
        self.params = {
            "W1": weight_scale * rng.standard_normal((n_features, n_hidden)),
            "b1": np.zeros((1, n_hidden)),
            "W2": weight_scale * rng.standard_normal((n_hidden, n_classes)),
            "b2": np.zeros((1, n_classes)),
        }

    def forward(self, X):
        X = np.asarray(X, dtype=float)
        # max(0, X W1 + b1), built in place: a fresh (N, hidden) temporary per step costs page faults
        # that take longer than the arithmetic (make bench: 58 against 260 microseconds at 300 x 100).
        hidden = X @ self.params["W1"]
        hidden += self.params["b1"]
        np.maximum(hidden, 0, out=hidden)  # ReLU
        scores = hidden @ self.params["W2"] + self.params["b2"]
        return scores, (X, hidden)

    def backward(self, dscores, cache):
        X, hidden = cache
        dhidden = dscores @ self.params["W2"].T
        dhidden[hidden <= 0] = 0  # the Heaviside factor: ReLU passes gradient only where it was active
        return {
            "W1": X.T @ dhidden,
            "b1": dhidden.sum(axis=0, keepdims=True),
            "W2": hidden.T @ dscores,
            "b2": dscores.sum(axis=0, keepdims=True),
        }


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
    >>> from lossbook.models import Detector
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
            raise ValueError(
                f"n_pixels, num_classes and hidden sizes must be >= 1; got {n_pixels}, {num_classes}, {hidden}"
            )
        self.num_classes = num_classes
        sizes = (n_pixels, *hidden, 4 + 1 + num_classes)
        self.params = {}
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
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
                delta[below <= 0] = 0  # the Heaviside factor: ReLU passes gradient only where it was active
        return grads

    def loss_and_grads(self, images, has_object, labels, boxes, weights=None, beta=DEFAULT_BETA):
        """The multi-task loss of a batch, its unweighted terms, and the gradients of every parameter.

        The arguments after `images` are those of :func:`~lossbook.detection.detection_loss`.

        Returns
        -------
        loss : float
        terms : dict
            The four unweighted terms (:func:`~lossbook.detection.detection_loss_terms`).
        grads : dict
            One array per parameter, shaped like it.
        """
        outputs, cache = self.forward(images)
        # One check of the targets for the loss, its terms and its gradient.
        loss, terms, doutputs = _loss_terms_and_grad(outputs, has_object, labels, boxes, weights, beta)
        return loss, terms, self.backward(doutputs, cache)

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


class DenseDetector:
    r"""A small fully convolutional network with a dense ``4 + 1 + C`` head: a prediction per cell and anchor.

    3 x 3 convolutions with ReLU (:mod:`lossbook.conv`), the strided ones halving the image each time,
    down to a grid of cells; then a 1 x 1 convolution, the head, with ``A (4 + 1 + C)`` output channels,
    so that every cell makes one prediction per anchor (:mod:`lossbook.dense`). With the defaults a
    64 x 64 image goes 64 -> 32 -> 16 -> 8 through three stride-2 convolutions, then two more 3 x 3
    convolutions at 8 x 8 widen what each cell sees: its receptive field is 47 pixels, enough for the
    largest objects.

    Parameters
    ----------
    num_classes : int
        C.
    rng : numpy.random.Generator
        Draws the initial weights: He's :math:`\mathcal{N}(0, 2 / \text{fan-in})` for the convolutions,
        :math:`\mathcal{N}(0, 0.01 / \text{fan-in})` for the head, so that it starts near 0. The biases
        start at 0, except the objectness bias, at :math:`-\log((1 - \pi) / \pi)` with
        :math:`\pi = 0.01`: every prediction starts by saying "object" with probability 0.01, the prior
        of RetinaNet (Lin et al., 2017), so that the 190-odd negatives of an image do not swamp the first
        steps. It is the same for every objectness loss.
    channels : tuple of int, default (16, 32, 64, 64, 64), keyword-only
        Output channels of the 3 x 3 convolutions.
    strides : tuple of int, default (2, 2, 2, 1, 1), keyword-only
        Their strides; the grid's stride is their product.
    anchors : sequence of float, default :data:`~lossbook.dense.DEFAULT_ANCHORS`, keyword-only
    image_size : int, default 64, keyword-only
    dtype : numpy dtype, default float32, keyword-only
        float64 for finite-difference checks.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.models import DenseDetector
    >>> model = DenseDetector(3, np.random.default_rng(0))
    >>> model.grid_size, model.stride, model.anchors.tolist()
    (8, 8, [8.0, 16.0, 32.0])
    >>> outputs, _ = model.forward(np.zeros((2, 64, 64)))
    >>> outputs.shape  # (image, grid row, grid column, anchor, 4 + 1 + 3)
    (2, 8, 8, 3, 8)
    """

    def __init__(self, num_classes, rng, *, channels=(16, 32, 64, 64, 64), strides=(2, 2, 2, 1, 1),
                 anchors=DEFAULT_ANCHORS, image_size=64, dtype=np.float32):
        num_classes = check.check_integer(num_classes, "num_classes")
        channels = tuple(check.check_integer(c, "channels") for c in channels)
        strides = tuple(check.check_integer(s, "strides") for s in strides)
        image_size = check.check_integer(image_size, "image_size")
        if num_classes < 1 or not channels or any(c < 1 for c in channels) or any(s < 1 for s in strides):
            raise ValueError(
                f"num_classes, channels and strides must be >= 1; got {num_classes}, {channels}, {strides}"
            )
        if len(strides) != len(channels):
            raise ValueError(f"strides must give one stride per layer of channels ({len(channels)}); got {strides}")
        self.num_classes = num_classes
        self.strides = strides
        self.stride = int(np.prod(strides))
        if image_size % self.stride:
            raise ValueError(f"image_size must be a multiple of the grid's stride {self.stride}; got {image_size}")
        self.image_size = image_size
        self.grid_size = image_size // self.stride
        self.anchors = np.asarray(anchors, dtype=np.float64)
        outputs_per_anchor = 4 + 1 + num_classes
        self.params = {}
        for layer, (fan_in_channels, out_channels) in enumerate(zip((1, *channels[:-1]), channels, strict=True), 1):
            fan_in = 9 * fan_in_channels
            weight = np.sqrt(2.0 / fan_in) * rng.standard_normal((3, 3, fan_in_channels, out_channels))
            self.params[f"W{layer}"] = weight.astype(dtype)
            self.params[f"b{layer}"] = np.zeros(out_channels, dtype=dtype)
        self.layers = len(channels)
        head = len(channels) + 1
        head_shape = (channels[-1], len(self.anchors) * outputs_per_anchor)
        weight = np.sqrt(0.01 / channels[-1]) * rng.standard_normal(head_shape)
        bias = np.zeros((len(self.anchors), outputs_per_anchor))
        bias[:, OBJECTNESS] = -np.log((1 - 0.01) / 0.01)
        self.params[f"W{head}"] = weight.astype(dtype)
        self.params[f"b{head}"] = bias.ravel().astype(dtype)

    def forward(self, images):
        """Head outputs (N, G, G, A, 4 + 1 + C) for images (N, H, W), and the cache of every layer."""
        dtype = self.params["W1"].dtype
        images = np.asarray(images, dtype=dtype)
        if images.ndim != 3 or images.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(f"images must have shape (N, {self.image_size}, {self.image_size}); got {images.shape}")
        x = images[..., None]  # one channel, last
        caches = []
        for layer in range(1, self.layers + 1):
            x, cache = conv2d_forward(x, self.params[f"W{layer}"], self.params[f"b{layer}"],
                                      stride=self.strides[layer - 1], padding=1)
            np.maximum(x, 0, out=x)  # ReLU, in place: the cache keeps only its output, which backward needs
            caches.append((cache, x))
        head = self.layers + 1
        outputs = x @ self.params[f"W{head}"] + self.params[f"b{head}"]  # the 1 x 1 convolution
        return outputs.reshape(*outputs.shape[:3], len(self.anchors), -1), (caches, x)

    def backward(self, doutputs, cache):
        """Gradients of every parameter, given the gradient of the loss with respect to the outputs."""
        caches, features = cache
        head = self.layers + 1
        delta = doutputs.reshape(*doutputs.shape[:3], -1)
        grads = {
            f"W{head}": features.reshape(-1, features.shape[3]).T @ delta.reshape(-1, delta.shape[3]),
            f"b{head}": delta.sum(axis=(0, 1, 2)),
        }
        delta = delta @ self.params[f"W{head}"].T
        for layer in range(self.layers, 0, -1):
            conv_cache, activation = caches[layer - 1]
            delta = np.where(activation > 0, delta, 0).astype(delta.dtype, copy=False)  # through the ReLU
            delta, grads[f"W{layer}"], grads[f"b{layer}"] = conv2d_backward(delta, conv_cache)
        return grads

    def assign(self, targets):
        """:func:`~lossbook.dense.assign_targets` on this network's grid and anchors."""
        return assign_targets(targets, self.grid_size, stride=self.stride, anchors=self.anchors)

    def loss_and_grads(self, images, targets, **loss_options):
        """The dense loss of a batch, its unweighted terms, and the gradients of every parameter.

        Parameters
        ----------
        images : array_like, shape (N, H, W)
        targets : list of dict
            One per image, ``"boxes"`` (k, 4) in pixels and ``"labels"`` (k,), as from
            :func:`~lossbook.datasets.make_scenes`.
        **loss_options
            The keyword options of :func:`~lossbook.dense.dense_loss` (``objectness``, ``classes``,
            ``boxes``, ``weights``, ...), or ``options``, a ready :class:`~lossbook.dense.LossOptions`.

        Returns
        -------
        loss : float
        terms : dict
            The three unweighted terms (:func:`~lossbook.dense.dense_loss_terms`).
        grads : dict
            One array per parameter, shaped like it.
        """
        options = loss_options.pop("options", None) or LossOptions(**loss_options)
        outputs, cache = self.forward(images)
        loss, terms, doutputs = dense_loss_terms_and_grad(outputs, self.assign(targets), options)
        return loss, terms, self.backward(doutputs, cache)

    def predict(self, images, *, classes="softmax", score_threshold=0.05, iou_threshold=0.5, max_detections=100,
                batch_size=256):
        """Detections per image (:func:`~lossbook.dense.postprocess`): boxes in pixels, scores, labels.

        `classes` must name how the class logits were trained (``"softmax"`` or ``"sigmoid"``).
        """
        detections = []
        for first in range(0, len(images), batch_size):
            outputs, _ = self.forward(images[first : first + batch_size])
            detections += postprocess(outputs, stride=self.stride, anchors=self.anchors, classes=classes,
                                      score_threshold=score_threshold, iou_threshold=iou_threshold,
                                      max_detections=max_detections)
        return detections
