"""The registry: every loss of the library, with what it takes to check it three ways.

Each :class:`LossSpec` holds the value function, its gradient twin, its name (which is also the name
of its SymPy definition in :mod:`lossbook.symbolic`, looked up only when asked for, so that
``import lossbook`` never pays for SymPy), and a generator of valid examples covering the loss's options. The test suite
parametrizes over :data:`LOSSES`: a loss registered here is checked against SymPy and finite
differences the day it is added.
"""

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lossbook import binary, boxes, calibration, classification, regression
from lossbook._reduction import reduce_losses
from lossbook.classification import cross_entropy, cross_entropy_grad, nll_loss, nll_loss_grad
from lossbook.regularization import l2_penalty, l2_penalty_grad
from lossbook.stable import log_softmax


@dataclass(frozen=True)
class Example:
    """One valid call: positional arguments (the first is differentiated) and keyword options."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LossSpec:
    """A loss, its gradient twin, its SymPy definition and a generator of valid examples."""

    name: str
    loss: Callable
    grad: Callable
    examples: Callable[[np.random.Generator], list]
    frozen_at: Callable | None = None
    """For a loss whose gradient treats a term as a constant (CIoU's alpha, torch.no_grad() in PyTorch):
    ``frozen_at(point)`` returns the loss with that term fixed at its value at `point`, the function
    whose finite differences at `point` the gradient equals. None when the gradient stops nowhere."""

    @property
    def symbolic(self):
        """The SymPy definition, imported on first use."""
        return getattr(importlib.import_module("lossbook.symbolic"), self.name)

    def symbolic_value_and_grad(self, *args, **kwargs):
        """Value and gradient from the SymPy definition (see :func:`lossbook.symbolic.value_and_grad`)."""
        symbolic = importlib.import_module("lossbook.symbolic")
        return symbolic.value_and_grad(self.symbolic, *args, **kwargs)

    def finite_difference_target(self, point, *rest, **kwargs):
        """The function of the first argument whose finite differences at `point` ``grad`` must match."""
        loss = self.loss if self.frozen_at is None else self.frozen_at(point)
        return lambda x: loss(x, *rest, **kwargs)


def _with_reductions(label, args, kwargs=None):
    kwargs = kwargs or {}
    return [Example(f"{label}-{r}", args, {**kwargs, "reduction": r}) for r in ("mean", "sum", "none")]


def _nll_examples(rng):
    n, c = 5, 4
    log_probs = log_softmax(rng.normal(size=(n, c)))
    target = rng.integers(0, c, size=n)
    with_ignored = target.copy()
    with_ignored[[1, 3]] = -100
    weight = rng.uniform(0.5, 2.0, size=c)
    return [
        *_with_reductions("plain", (log_probs, target)),
        *_with_reductions("weight", (log_probs, target), {"weight": weight}),
        *_with_reductions("ignore_index", (log_probs, with_ignored), {"weight": weight}),
        Example("unbatched", (log_probs[0], target[0])),
        Example("custom-ignore_index", (log_probs, target), {"ignore_index": int(target[0])}),
    ]


def _cross_entropy_examples(rng):
    n, c = 5, 4
    logits = rng.normal(scale=2.0, size=(n, c))
    target = rng.integers(0, c, size=n)
    with_ignored = target.copy()
    with_ignored[2] = -100
    weight = rng.uniform(0.5, 2.0, size=c)
    probs = rng.dirichlet(np.ones(c), size=n)
    spatial = rng.normal(size=(2, c, 3))
    return [
        *_with_reductions("index", (logits, target)),
        *_with_reductions("index-weight", (logits, target), {"weight": weight}),
        *_with_reductions("index-smoothing", (logits, target), {"label_smoothing": 0.2}),
        *_with_reductions(
            "index-weight-ignore-smoothing", (logits, with_ignored), {"weight": weight, "label_smoothing": 0.1}
        ),
        *_with_reductions("probabilities", (logits, probs)),
        *_with_reductions(
            "probabilities-weight-smoothing", (logits, probs), {"weight": weight, "label_smoothing": 0.3}
        ),
        Example("unbatched", (logits[0], target[0])),
        Example("unbatched-probabilities", (logits[0], probs[0])),
        *_with_reductions("spatial", (spatial, rng.integers(0, c, size=(2, 3))), {"weight": weight}),
    ]


def _l2_examples(rng):
    return [
        Example("matrix", (rng.normal(size=(3, 4)), 0.01)),
        Example("vector", (rng.normal(size=5), 2.5)),
        Example("zero-lam", (rng.normal(size=(2, 2)), 0.0)),
    ]


def _bce_examples(rng):
    logits = rng.normal(scale=2.0, size=(4, 3))
    labels = rng.integers(0, 2, size=(4, 3)).astype(float)
    soft = rng.uniform(size=(4, 3))
    return [
        *_with_reductions("labels", (logits, labels)),
        *_with_reductions("soft-targets", (logits, soft)),
        *_with_reductions(
            "weight-pos_weight",
            (logits, labels),
            {"weight": rng.uniform(0.5, 2, size=3), "pos_weight": rng.uniform(0.5, 4, size=3)},
        ),
        Example(
            "elementwise-weight", (logits, labels), {"weight": rng.uniform(0.5, 2, size=(4, 3)), "pos_weight": 2.5}
        ),
        Example("row-vector-pos_weight", (logits, labels), {"pos_weight": rng.uniform(0.5, 4, size=(1, 3))}),
        Example("vector", (logits[0], labels[0])),
    ]


def _focal_examples(rng):
    logits = rng.normal(scale=2.0, size=(3, 4))
    labels = rng.integers(0, 2, size=(3, 4)).astype(float)
    return [
        *_with_reductions("default", (logits, labels)),
        Example("gamma-0.5", (logits, labels), {"gamma": 0.5}),
        Example("gamma-0", (logits, labels), {"gamma": 0.0, "alpha": 0.75}),
        Example("alpha-off-soft", (logits, rng.uniform(size=(3, 4))), {"alpha": -1.0, "gamma": 1.5}),
    ]


def _regression_examples(rng, option=None, values=(), weighted=True):
    prediction = rng.normal(scale=2.0, size=(3, 4))
    target = rng.normal(scale=2.0, size=(3, 4))
    examples = _with_reductions("matrix", (prediction, target))
    examples += [Example(f"{option}-{v}", (prediction, target), {option: v}) for v in values]
    if weighted:  # PyTorch's weight= for mse_loss, l1_loss and huber_loss
        examples += _with_reductions("weight", (prediction, target), {"weight": rng.uniform(0.5, 2, size=(3, 4))})
    return examples + [Example("vector", (prediction[0], target[0]))]


def _random_boxes(rng, count, scale=2.0):
    centres = rng.uniform(0, scale, size=(count, 2))
    sizes = rng.uniform(0.3, 1.2, size=(count, 2))
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def _giou_examples(rng):
    predicted, target = _random_boxes(rng, 6), _random_boxes(rng, 6)
    far = target + np.array([3.0, 0.5, 3.0, 0.5])  # disjoint from every predicted box
    return [
        *_with_reductions("overlapping-and-not", (predicted, target)),
        Example("disjoint", (predicted, far)),
        Example("eps-0", (predicted, target), {"eps": 0.0}),
    ]


def _iou_family_examples(rng, *, same_aspect=False):
    """Overlapping, disjoint, nested and equal-centre pairs (and, for CIoU, equal aspect ratios).

    Four pairs per example: SymPy differentiates each pair's Min, Max and Piecewise, about a second each.
    """
    predicted, target = _random_boxes(rng, 4), _random_boxes(rng, 4)
    far = target + np.array([3.0, 0.5, 3.0, 0.5])  # disjoint from every predicted box
    sides = target[:, 2:] - target[:, :2]
    inside = np.c_[target[:, :2] + rng.uniform(0.1, 0.4, (4, 2)) * sides,
                   target[:, 2:] - rng.uniform(0.1, 0.4, (4, 2)) * sides]
    centres = (predicted[:, :2] + predicted[:, 2:]) / 2
    half_sides = rng.uniform(0.15, 0.6, size=(4, 2))
    examples = [
        *_with_reductions("overlapping-and-not", (predicted, target)),
        Example("disjoint", (predicted, far)),
        Example("eps-0.01", (predicted, target), {"eps": 0.01}),
        Example("nested-inside", (inside, target)),
        Example("nested-around", (target, inside)),
        Example("equal-centre", (predicted, np.c_[centres - half_sides, centres + half_sides])),
    ]
    if same_aspect:  # the target is the prediction scaled and moved: v = 0 and CIoU = DIoU
        scale, shift = rng.uniform(0.5, 2, size=(4, 1)), rng.uniform(-0.5, 0.5, size=(4, 2))
        half = scale * (predicted[:, 2:] - predicted[:, :2]) / 2
        examples.append(Example("same-aspect", (predicted, np.c_[centres + shift - half, centres + shift + half])))
    return examples


def _ciou_with_alpha_frozen_at(point):
    """CIoU as a function of boxes1 with alpha fixed at its value at `point`: what torchvision differentiates."""
    def loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
        _, alpha, _ = boxes._aspect_parts(np.asarray(point, dtype=float), np.asarray(boxes2, dtype=float), eps)
        v, _, _ = boxes._aspect_parts(boxes1, np.asarray(boxes2, dtype=float), eps)
        diou = boxes.distance_box_iou_loss(boxes1, boxes2, eps=boxes._TORCHVISION_DIOU_EPS)
        return reduce_losses(diou + alpha * v, reduction, np.asarray(boxes1).dtype)
    return loss


def _multi_margin_examples(rng):
    logits = rng.normal(size=(5, 4))
    target = rng.integers(0, 4, size=5)
    return [
        *_with_reductions("plain", (logits, target)),
        Example("weight", (logits, target), {"weight": rng.uniform(0.5, 2, size=4)}),
        Example("margin-0.3-squared", (logits, target), {"margin": 0.3, "p": 2}),
        Example("unbatched", (logits[0], target[0])),
    ]


def _kl_examples(rng):
    log_probs = log_softmax(rng.normal(size=(4, 3)))
    target = rng.dirichlet(np.ones(3), size=4)
    target[0, 1] = 0.0  # a class the target never uses: 0 log 0 = 0
    target[0] /= target[0].sum()
    return [
        *[Example(f"{r}", (log_probs, target), {"reduction": r}) for r in ("batchmean", "mean", "sum", "none")],
        Example("log_target", (log_probs, np.log(rng.dirichlet(np.ones(3), size=4))), {"log_target": True}),
    ]


def _brier_examples(rng):
    probs = rng.dirichlet(np.full(4, 2.0), size=5)  # rows on the simplex, away from 0 and 1
    binary_probs = rng.uniform(0.05, 0.95, size=6)
    return [
        *_with_reductions("classes", (probs, rng.integers(0, 4, size=5))),
        *_with_reductions("binary", (binary_probs, rng.integers(0, 2, size=6))),
    ]


LOSSES = (
    LossSpec("nll_loss", nll_loss, nll_loss_grad, _nll_examples),
    LossSpec("cross_entropy", cross_entropy, cross_entropy_grad, _cross_entropy_examples),
    LossSpec("l2_penalty", l2_penalty, l2_penalty_grad, _l2_examples),
    LossSpec(
        "binary_cross_entropy_with_logits",
        binary.binary_cross_entropy_with_logits,
        binary.binary_cross_entropy_with_logits_grad,
        _bce_examples,
    ),
    LossSpec("mse_loss", regression.mse_loss, regression.mse_loss_grad, _regression_examples),
    LossSpec("l1_loss", regression.l1_loss, regression.l1_loss_grad, _regression_examples),
    LossSpec(
        "smooth_l1_loss",
        regression.smooth_l1_loss,
        regression.smooth_l1_loss_grad,
        lambda rng: _regression_examples(rng, "beta", (0.0, 0.5, 3.0), weighted=False),
    ),
    LossSpec(
        "huber_loss",
        regression.huber_loss,
        regression.huber_loss_grad,
        lambda rng: _regression_examples(rng, "delta", (0.5, 3.0)),
    ),
    LossSpec(
        "sigmoid_focal_loss", binary.sigmoid_focal_loss, binary.sigmoid_focal_loss_grad, _focal_examples
    ),
    LossSpec(
        "generalized_box_iou_loss",
        boxes.generalized_box_iou_loss,
        boxes.generalized_box_iou_loss_grad,
        _giou_examples,
    ),
    LossSpec(
        "distance_box_iou_loss",
        boxes.distance_box_iou_loss,
        boxes.distance_box_iou_loss_grad,
        _iou_family_examples,
    ),
    LossSpec(
        "complete_box_iou_loss",
        boxes.complete_box_iou_loss,
        boxes.complete_box_iou_loss_grad,
        lambda rng: _iou_family_examples(rng, same_aspect=True),
        frozen_at=_ciou_with_alpha_frozen_at,
    ),
    LossSpec(
        "multi_margin_loss",
        classification.multi_margin_loss,
        classification.multi_margin_loss_grad,
        _multi_margin_examples,
    ),
    LossSpec("kl_div", classification.kl_div, classification.kl_div_grad, _kl_examples),
    LossSpec("brier_score", calibration.brier_score, calibration.brier_score_grad, _brier_examples),
)
"""Every loss of the library, in the order the course introduces them."""


def get(name):
    """The :class:`LossSpec` registered under `name`."""
    for spec in LOSSES:
        if spec.name == name:
            return spec
    raise KeyError(f"no loss named {name!r}; registered: {[spec.name for spec in LOSSES]}")
