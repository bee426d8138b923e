"""The training loops: a classifier on its regularized loss, and the detector on fresh shapes, with histories.

:func:`train` runs full-batch gradient descent (``batch_size=None``) or minibatch SGD, logs the loss
at a fixed interval (so a notebook's printed trace is the same on every run), and returns a
:class:`History`. :func:`train_detector` trains the capstone's :class:`~lossbook.models.Detector`
with Adam on shapes drawn fresh every epoch and measures it with :func:`evaluate` on held-out shapes;
:func:`train_dense_detector` trains the :class:`~lossbook.models.DenseDetector` on fresh scenes of many
objects and measures COCO mean average precision with :func:`evaluate_detections`.
On a terminal the command line adds a progress bar through the ``progress`` callback; nothing here
draws or prints by itself except through ``log``. Every training loop here stops at the first loss
that is not a finite number and raises :class:`TrainingDiverged`.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from lossbook._validation import check_integer, check_nonnegative_number, check_real_number
from lossbook.boxes import box_iou
from lossbook.calibration import brier_score, calibration_error
from lossbook.datasets import SHAPE_NAMES, make_scenes, make_shapes
from lossbook.dense import TERMS as DENSE_TERMS
from lossbook.dense import LossOptions, dense_loss_terms_and_grad
from lossbook.detection import DEFAULT_BETA, OBJECTNESS, TERMS
from lossbook.metrics import _check_images, _iou_matrix, match_detections, mean_average_precision
from lossbook.models import DenseDetector, Detector
from lossbook.optim import Adam
from lossbook.stable import sigmoid


class TrainingDiverged(ArithmeticError):
    """The training loss became infinite or nan: the steps diverged, most often because the learning rate is too large.

    ``step`` counts from 0: the loss of step ``step`` was not finite, after ``step`` updates had been
    applied. ``loss`` is that loss. Training stops there: a step taken from a non-finite loss would
    make every parameter nan.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import make_spiral
    >>> from lossbook.models import LinearSoftmax
    >>> from lossbook.optim import GradientDescent
    >>> rng = np.random.default_rng(0)
    >>> X, y = make_spiral(rng=rng)
    >>> try:
    ...     with np.errstate(over="ignore", invalid="ignore"):  # the diverging steps overflow
    ...         train(LinearSoftmax(2, 3, rng), X, y, GradientDescent(1e6), steps=200, lam=5e-4)
    ... except TrainingDiverged as error:
    ...     print(error)
    the training loss became inf at step 51; try a smaller learning rate
    """

    def __init__(self, step, loss):
        super().__init__(f"the training loss became {loss} at step {step}; try a smaller learning rate")
        self.step, self.loss = step, loss


@dataclass
class History:
    """What happened during training: the loss at every step, and accuracies where they were measured."""

    loss: list = field(default_factory=list)
    train_accuracy: dict = field(default_factory=dict)
    test_accuracy: dict = field(default_factory=dict)

    @property
    def steps(self):
        return len(self.loss)


def train(
    model,
    X,
    y,
    optimizer,
    steps,
    lam=0.0,
    batch_size=None,
    rng=None,
    log_every=None,
    log=print,
    decimals=6,
    evaluate_every=None,
    X_test=None,
    y_test=None,
    progress=None,
):
    r"""Train `model` in place for `steps` optimizer steps and return the :class:`History`.

    Parameters
    ----------
    model : lossbook.models.Classifier
    X, y : numpy.ndarray
        Training inputs (N, D) and integer labels (N,).
    optimizer : object with ``step(params, grads)``
    steps : int
    lam : float, default 0.0
        L2 strength, :math:`\lambda \sum W^2` (the post's convention; CS231n's ``reg`` is ``2 * lam``).
    batch_size : int, optional
        None for full-batch gradient descent; otherwise each step draws a minibatch with `rng`.
    log_every : int, optional
        Call ``log("step {s}: loss {loss}")`` every `log_every` steps, loss rounded to `decimals`.
    evaluate_every : int, optional
        Record training (and test, if given) accuracy every `evaluate_every` steps and at the end.
    progress : callable, optional
        Called as ``progress(step, loss)`` after every step (the command line's progress bar).

    Raises
    ------
    TrainingDiverged
        At the first step whose loss is infinite or nan (before that step's update).

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import make_spiral
    >>> from lossbook.models import LinearSoftmax
    >>> from lossbook.optim import GradientDescent
    >>> rng = np.random.default_rng(0)
    >>> X, y = make_spiral(rng=rng)
    >>> history = train(LinearSoftmax(2, 3, rng), X, y, GradientDescent(1.0), steps=200, lam=5e-4,
    ...                 log_every=100, decimals=4)
    step 0: loss 1.0948
    step 100: loss 0.7502
    >>> history.steps
    200
    """
    steps = check_integer(steps, "steps")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must hold the same number of samples; got {len(X)} and {len(y)}")
    if batch_size is not None:
        batch_size = check_integer(batch_size, "batch_size")
        if not 1 <= batch_size <= len(X):
            raise ValueError(f"batch_size must lie in [1, {len(X)}]; got {batch_size}")
        if rng is None:
            raise TypeError("minibatch training needs rng, a numpy.random.Generator, to draw the batches")
    history = History()
    for step in range(steps):
        if batch_size is None:
            batch_X, batch_y = X, y
        else:
            batch = rng.choice(len(X), size=batch_size, replace=False)
            batch_X, batch_y = X[batch], y[batch]
        loss, grads = model.loss_and_grads(batch_X, batch_y, lam)
        if not np.isfinite(loss):
            raise TrainingDiverged(step, loss)
        history.loss.append(loss)
        if log_every and step % log_every == 0:
            log(f"step {step}: loss {loss:.{decimals}f}")
        optimizer.step(model.params, grads)
        if evaluate_every and ((step + 1) % evaluate_every == 0 or step + 1 == steps):
            history.train_accuracy[step + 1] = model.accuracy(X, y)
            if X_test is not None:
                history.test_accuracy[step + 1] = model.accuracy(X_test, y_test)
        if progress is not None:
            progress(step, loss)
    return history


# ----------------------------------------------------------------------------------------------
# The detector: metrics and training


def paired_iou(boxes1, boxes2, chunk=512):
    """IoU of row n of `boxes1` with row n of `boxes2` (the diagonal of :func:`~lossbook.boxes.box_iou`).

    Examples
    --------
    >>> from lossbook.training import paired_iou
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
    >>> from lossbook.datasets import make_shapes
    >>> from lossbook.models import Detector
    >>> from lossbook.training import evaluate
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
class _LossTermsHistory:
    """The loss at every step and each of its unweighted terms; a detector's history names the terms."""

    loss: list = field(default_factory=list)
    terms: dict = field(default_factory=dict)

    @property
    def steps(self):
        return len(self.loss)

    def record(self, loss, terms):
        """Append one step's loss, and from the dict `terms` the value of each term this history keeps."""
        self.loss.append(loss)
        for name, values in self.terms.items():
            values.append(terms[name])


@dataclass
class DetectionHistory(_LossTermsHistory):
    """The loss and its four unweighted terms at every step, and held-out metrics after every epoch."""

    terms: dict = field(default_factory=lambda: {name: [] for name in TERMS})
    test_metrics: dict = field(default_factory=dict)


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
    """Train a :class:`~lossbook.models.Detector` on fresh shapes every epoch with Adam; evaluate on held-out shapes.

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
        Loss weights, default :data:`~lossbook.detection.DEFAULT_WEIGHTS`.
    beta : float, default :data:`~lossbook.detection.DEFAULT_BETA`
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

    Raises
    ------
    TrainingDiverged
        At the first step whose loss is infinite or nan (before that step's update).

    Returns
    -------
    DetectionRun
        ``.model``; ``.history`` (loss and terms per step, held-out metrics per epoch); ``.metrics``:
        ``train_loss`` (mean over the last epoch), ``objectness_accuracy``, ``class_accuracy``,
        ``mean_iou`` (held out), ``epochs``, ``steps``, ``seconds`` (wall time of the training loop).

    Examples
    --------
    >>> from lossbook.training import train_detector
    >>> run = train_detector(epochs=1, images_per_epoch=500, hidden=(32,), n_test=200, seed=0)
    >>> sorted(run.metrics)  # doctest: +NORMALIZE_WHITESPACE
    ['class_accuracy', 'epochs', 'mean_iou', 'objectness_accuracy', 'seconds', 'steps', 'train_loss']
    >>> run.metrics["steps"], run.history.steps
    (5, 5)
    """
    epochs = check_integer(epochs, "epochs")
    images_per_epoch = check_integer(images_per_epoch, "images_per_epoch")
    batch_size = check_integer(batch_size, "batch_size")
    n_test = check_integer(n_test, "n_test")
    seed = check_integer(seed, "seed")
    if epochs < 1 or images_per_epoch < 1 or batch_size < 1 or n_test < 1:
        raise ValueError(
            f"epochs, images_per_epoch, batch_size and n_test must be >= 1; "
            f"got {epochs}, {images_per_epoch}, {batch_size}, {n_test}"
        )
    lr = check_nonnegative_number(lr, "lr")
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
            if not np.isfinite(loss):
                raise TrainingDiverged(step, loss)
            optimizer.step(model.params, grads)
            history.record(loss, terms)
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


# ----------------------------------------------------------------------------------------------
# The dense detector: many objects per scene, mean average precision


SIZE_RANGES = {"small": (0.0, 12.0**2), "medium": (12.0**2, 24.0**2), "large": (24.0**2, np.inf)}
"""Object sizes for the per-size AP of 64 x 64 scenes, in squared pixels: up to 12 x 12, up to 24 x 24,
larger. (COCO's ranges, 32**2 and 96**2, are for photographs of about 640 pixels.)"""


def evaluate_detections(model, images, targets, *, classes="softmax"):
    """COCO mean average precision of `model`'s detections on `images`, overall and by object size.

    Returns
    -------
    dict
        ``map``, ``map_50``, ``map_75``, ``map_small``, ``map_medium``, ``map_large`` and ``mar_100``
        (:func:`~lossbook.metrics.mean_average_precision` with :data:`SIZE_RANGES`).
    """
    scores = mean_average_precision(model.predict(images, classes=classes), targets, area_ranges=SIZE_RANGES)
    keys = ("map", "map_50", "map_75", *(f"map_{size}" for size in SIZE_RANGES), "mar_100")
    return {key: float(scores[key]) for key in keys}


def detection_outcomes(preds, targets, *, iou_threshold=0.5):
    """Each detection's score, and whether it is right: a true positive at one IoU threshold, with the right class.

    In each image, the detections of each class take turns from the highest score down and each takes
    the free ground-truth box of its class that it overlaps most, if the IoU reaches `iou_threshold`
    (:func:`~lossbook.metrics.match_detections`, COCO's greedy matching). A detection that takes a box
    is right; a second detection of the same object, a detection of the wrong class and a detection of
    nothing are wrong.

    Parameters
    ----------
    preds, targets : list of dict
        One per image, in the format of :func:`~lossbook.metrics.mean_average_precision`.
    iou_threshold : float in [0, 1], default 0.5, keyword-only

    Returns
    -------
    scores : numpy.ndarray of float64, shape (D,)
        The scores of all detections, image after image, each image's in decreasing order.
    correct : numpy.ndarray of bool, shape (D,)

    Examples
    --------
    Two detections of the circle (class 0) at (0, 0, 10, 10): the first finds it, the second comes too
    late. The third detection lies on the square (class 2) but says class 1.

    >>> import numpy as np
    >>> from lossbook.training import detection_outcomes
    >>> preds = [{"boxes": np.array([[1.0, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]]),
    ...           "scores": np.array([0.8, 0.9, 0.3]), "labels": np.array([0, 0, 1])}]
    >>> targets = [{"boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "labels": np.array([0, 2])}]
    >>> detection_outcomes(preds, targets)
    (array([0.9, 0.8, 0.3]), array([ True, False, False]))
    """
    iou_threshold = check_real_number(iou_threshold, "iou_threshold", at_least=0, at_most=1)
    scores, correct = [np.zeros(0)], [np.zeros(0, dtype=bool)]
    for det_boxes, det_scores, det_labels, gt_boxes, gt_labels in _check_images(preds, targets):
        order = np.argsort(-det_scores, kind="mergesort")  # stable, as COCO
        det_boxes, det_labels = det_boxes[order], det_labels[order]
        iou = _iou_matrix(det_boxes, gt_boxes)
        right = np.zeros(len(order), dtype=bool)
        for label in np.unique(det_labels):
            dets, truths = np.flatnonzero(det_labels == label), np.flatnonzero(gt_labels == label)
            right[dets] = match_detections(iou[np.ix_(dets, truths)], iou_threshold) >= 0
        scores.append(det_scores[order])
        correct.append(right)
    return np.concatenate(scores), np.concatenate(correct)


def binary_calibration(probs, outcome, *, n_bins=15):
    """How well probabilities of a yes-or-no outcome match its frequency: ECE, Brier score, mean and rate.

    Parameters
    ----------
    probs : array_like, shape (N,)
        Predicted probabilities of "yes".
    outcome : array_like of bool or {0, 1}, shape (N,)
    n_bins : int, default 15, keyword-only
        Bins of the expected calibration error.

    Returns
    -------
    dict
        ``ece``: :func:`~lossbook.calibration.calibration_error` (binary, equal-width bins);
        ``brier``: :func:`~lossbook.calibration.brier_score`, the mean of :math:`(p - y)^2`;
        ``mean_probability`` and ``rate``, the mean of `probs` and of `outcome`: their difference is
        the overall shift, the part of the miscalibration that one bin would see. All -1 when N = 0:
        undefined, marked as :mod:`lossbook.metrics` marks it (COCO's convention), so that the JSON of
        the experiments holds plain numbers.

    Examples
    --------
    >>> from lossbook.training import binary_calibration
    >>> measured = binary_calibration([0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0], n_bins=5)
    >>> {key: round(value, 4) for key, value in measured.items()}
    {'ece': 0.3, 'brier': 0.225, 'mean_probability': 0.55, 'rate': 0.25}
    """
    probs = np.asarray(probs, dtype=np.float64)
    outcome = np.asarray(outcome)
    if probs.ndim != 1 or outcome.shape != probs.shape:
        raise ValueError(f"probs and outcome must have the same shape (N,); got {probs.shape} and {outcome.shape}")
    if probs.size == 0:
        return dict.fromkeys(("ece", "brier", "mean_probability", "rate"), -1.0)
    return {
        "ece": float(calibration_error(probs, outcome, n_bins=n_bins)),
        "brier": float(brier_score(probs, outcome)),
        "mean_probability": float(probs.mean()),
        "rate": float(np.mean(outcome == 1)),
    }


CALIBRATION_KEYS = ("cell_ece", "cell_brier", "cell_mean_probability", "cell_positive_rate",
                    "det_ece", "det_brier", "det_mean_score", "det_precision")
"""The keys of :func:`evaluate_calibration`."""


def evaluate_calibration(model, images, targets, *, classes="softmax", n_bins=15, batch_size=256):
    r"""Calibration of a dense detector's scores on held-out scenes: of every prediction, and of the detections.

    Two levels, each measured by :func:`binary_calibration`:

    - cells (``cell_...``): the objectness probability :math:`\sigma(z_\text{obj})` of every prediction
      (image, cell, anchor) against its assigned target (1 for the predictions responsible for an
      object by :func:`~lossbook.dense.assign_targets`, 0 for all others), the question the objectness
      loss is trained on. ``cell_mean_probability`` against ``cell_positive_rate`` is the overall shift.
    - detections (``det_...``), what a user of the detector sees (Kuppers et al., 2020): the score of
      every detection that ``model.predict`` returns (objectness times class probability, at least
      0.05, after non-maximum suppression) against whether it is right at IoU 0.5
      (:func:`detection_outcomes`). ``det_mean_score`` against ``det_precision`` (the fraction right)
      is the overall shift.

    Parameters
    ----------
    model : DenseDetector
    images : array_like, shape (N, H, W)
    targets : list of dict
        One per image, ``"boxes"`` and ``"labels"``.
    classes : {"softmax", "sigmoid"}, default "softmax", keyword-only
        How the class logits were trained.
    n_bins : int, default 15, keyword-only
    batch_size : int, default 256, keyword-only

    Returns
    -------
    dict
        The floats of :data:`CALIBRATION_KEYS`; the ``det_`` ones are -1 (undefined) when there is no
        detection.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import make_scenes
    >>> from lossbook.models import DenseDetector
    >>> from lossbook.training import evaluate_calibration
    >>> rng = np.random.default_rng(0)
    >>> images, targets = make_scenes(8, rng)
    >>> measured = evaluate_calibration(DenseDetector(3, rng), images, targets)
    >>> round(measured["cell_mean_probability"], 3)  # the untrained network says "object" with probability 0.01
    0.01
    """
    probs = []
    for first in range(0, len(images), batch_size):
        outputs, _ = model.forward(images[first : first + batch_size])
        probs.append(sigmoid(outputs[..., OBJECTNESS].astype(np.float64)))
    cells = binary_calibration(np.concatenate(probs).ravel(), model.assign(targets).objectness.ravel(), n_bins=n_bins)
    scores, correct = detection_outcomes(model.predict(images, classes=classes, batch_size=batch_size), targets)
    detections = binary_calibration(scores, correct, n_bins=n_bins)
    return {
        "cell_ece": cells["ece"], "cell_brier": cells["brier"],
        "cell_mean_probability": cells["mean_probability"], "cell_positive_rate": cells["rate"],
        "det_ece": detections["ece"], "det_brier": detections["brier"],
        "det_mean_score": detections["mean_probability"], "det_precision": detections["rate"],
    }


@dataclass
class DenseDetectionHistory(_LossTermsHistory):
    """The loss and its three unweighted terms at every step, and validation metrics where measured."""

    terms: dict = field(default_factory=lambda: {name: [] for name in DENSE_TERMS})
    val_metrics: dict = field(default_factory=dict)


@dataclass
class DenseDetectionRun:
    """What :func:`train_dense_detector` returns: the model, its history, its metrics and its held-out data."""

    model: DenseDetector
    history: DenseDetectionHistory
    metrics: dict
    test_data: tuple


def _step_lr(step, steps, lr):
    """`lr` for the first half of the steps, then a linear decay to `lr` / 20 at the last step."""
    half = steps // 2
    if step < half:
        return lr
    return lr * (1 - 0.95 * (step - half) / max(1, steps - 1 - half))


def train_dense_detector(
    epochs=16,
    images_per_epoch=5000,
    batch_size=32,
    lr=2e-3,
    seed=0,
    *,
    objectness="bce",
    classes="softmax",
    boxes="giou",
    weights=None,
    n_val=500,
    n_test=1000,
    evaluate_every=None,
    log=None,
    progress=None,
):
    """Train a :class:`~lossbook.models.DenseDetector` on fresh scenes with Adam; measure COCO mAP on held-out scenes.

    Everything random comes from ``np.random.default_rng(seed)``, in this order: the `n_test` test
    scenes, the `n_val` validation scenes (both drawn first, so they do not depend on any training
    setting), the initial weights, then each epoch's `images_per_epoch` training scenes
    (:func:`~lossbook.datasets.make_scenes`, drawn fresh: no scene is seen twice) and their order.
    The learning rate is held for the first half of the steps, then decays linearly to `lr` / 20.
    Validation scenes are for choices (loss settings, when to stop); the test scenes measure the result.

    Parameters
    ----------
    epochs : int, default 16
    images_per_epoch : int, default 5000
    batch_size : int, default 32
    lr : float, default 2e-3
        Adam's learning rate.
    seed : int, default 0
    objectness, classes, boxes, weights : keyword-only
        The loss of each term, as in :func:`~lossbook.dense.dense_loss`.
    n_val, n_test : int, default 500 and 1000, keyword-only
    evaluate_every : int, optional, keyword-only
        Measure the validation metrics every `evaluate_every` epochs (into ``history.val_metrics``);
        they are always measured after the last epoch.
    log : callable, optional, keyword-only
        Called with a line of text after every epoch.
    progress : callable, optional, keyword-only
        Called as ``progress(step, loss)`` after every step.

    Returns
    -------
    DenseDetectionRun
        ``.metrics``: on the test scenes ``map``, ``map_50``, ``map_75``, ``map_small``,
        ``map_medium``, ``map_large`` (:data:`SIZE_RANGES`), ``mar_100``; on the validation scenes
        ``val_map``, ``val_map_50``, ``val_map_75``; on the test scenes the calibration of the scores,
        :data:`CALIBRATION_KEYS` (:func:`evaluate_calibration`); ``train_loss`` (mean over the last epoch),
        ``unassigned`` (share of training objects that found no free anchor), ``epochs``, ``steps``,
        ``images``, ``seconds`` (wall time of the training loop) and ``cpu_seconds`` (processor time of
        this process in it, which other programs on the machine do not inflate).

    Examples
    --------
    >>> from lossbook.training import train_dense_detector
    >>> run = train_dense_detector(epochs=1, images_per_epoch=64, n_val=20, n_test=20, seed=0)
    >>> run.metrics["steps"], run.history.steps, sorted(run.history.terms)
    (2, 2, ['box', 'class', 'objectness'])
    """
    epochs, images_per_epoch, batch_size, seed, n_val, n_test = (
        check_integer(value, name) for value, name in zip(
            (epochs, images_per_epoch, batch_size, seed, n_val, n_test),
            ("epochs", "images_per_epoch", "batch_size", "seed", "n_val", "n_test"), strict=True)
    )
    if min(epochs, images_per_epoch, batch_size, n_val, n_test) < 1:
        raise ValueError(
            f"epochs, images_per_epoch, batch_size, n_val and n_test must be >= 1; "
            f"got {epochs}, {images_per_epoch}, {batch_size}, {n_val}, {n_test}"
        )
    lr = check_nonnegative_number(lr, "lr")
    options = LossOptions(objectness=objectness, classes=classes, boxes=boxes, weights=weights)
    rng = np.random.default_rng(seed)
    test_data = make_scenes(n_test, rng)
    val_data = make_scenes(n_val, rng)
    model = DenseDetector(len(SHAPE_NAMES), rng)
    optimizer = Adam(lr)
    history = DenseDetectionHistory()
    steps = epochs * -(-images_per_epoch // batch_size)
    objects = unassigned = step = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        images, targets = make_scenes(images_per_epoch, rng)
        order = rng.permutation(images_per_epoch)
        epoch_losses = []
        for first in range(0, images_per_epoch, batch_size):
            batch = order[first : first + batch_size]
            batch_targets = [targets[i] for i in batch]
            outputs, cache = model.forward(images[batch])
            assigned = model.assign(batch_targets)
            loss, terms, doutputs = dense_loss_terms_and_grad(outputs, assigned, options)
            if not np.isfinite(loss):
                raise TrainingDiverged(step, loss)
            optimizer.lr = _step_lr(step, steps, lr)
            optimizer.step(model.params, model.backward(doutputs, cache))
            objects += sum(len(target["labels"]) for target in batch_targets)
            unassigned += assigned.unassigned
            history.record(loss, terms)
            epoch_losses.append(loss)
            if progress is not None:
                progress(step, loss)
            step += 1
        if (evaluate_every and (epoch + 1) % evaluate_every == 0) or epoch + 1 == epochs:
            history.val_metrics[epoch + 1] = evaluate_detections(model, *val_data, classes=classes)
        if log is not None:
            shown = ""
            if epoch + 1 in history.val_metrics:
                shown = "; validation " + ", ".join(
                    f"{key} {history.val_metrics[epoch + 1][key]:.4f}" for key in ("map", "map_50", "map_75")
                )
            log(f"epoch {epoch + 1}: training loss {np.mean(epoch_losses):.4f}{shown}")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    val = history.val_metrics[epochs]
    metrics = {
        **evaluate_detections(model, *test_data, classes=classes),
        **evaluate_calibration(model, *test_data, classes=classes),
        "val_map": val["map"],
        "val_map_50": val["map_50"],
        "val_map_75": val["map_75"],
        "train_loss": float(np.mean(epoch_losses)),
        "unassigned": unassigned / max(1, objects),
        "epochs": epochs,
        "steps": step,
        "images": epochs * images_per_epoch,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }
    return DenseDetectionRun(model, history, metrics, test_data)
