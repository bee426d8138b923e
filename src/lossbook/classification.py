"""Losses over C classes: negative log-likelihood and cross-entropy, each with its gradient twin.

Semantics follow ``torch.nn.functional.nll_loss`` and ``cross_entropy``: class scores sit on axis 1
(shapes (C,), (N, C) or (N, C, d1, ...)), targets are class indices or, for cross-entropy, class
probabilities shaped like the scores; ``weight`` rescales classes, ``ignore_index`` drops samples,
and ``reduction="mean"`` divides by the total weight of the samples that count.

Every ``name_grad`` takes the same arguments as ``name`` and returns the gradient of the loss with
respect to its first argument, shaped like it; for ``reduction="none"`` it is the gradient of the
sum of the per-sample losses.
"""

from dataclasses import dataclass

import numpy as np

from lossbook import _validation as check
from lossbook.stable import log_softmax


@dataclass
class _Rows:
    """A classification batch flattened to rows: scores (M, C), one row per sample and position."""

    scores: np.ndarray
    batch_shape: tuple
    input_shape: tuple
    dtype: np.dtype

    @classmethod
    def from_input(cls, x):
        if x.ndim == 1:
            return cls(x[None, :], (), x.shape, x.dtype)
        num_classes = x.shape[1]
        rows = np.moveaxis(x, 1, -1).reshape(-1, num_classes)
        return cls(rows, x.shape[:1] + x.shape[2:], x.shape, x.dtype)

    def flatten_target(self, target):
        """Index targets become (M,), probability targets (shaped like the input) become (M, C)."""
        if target.shape == self.input_shape:
            return self.from_input(target).scores
        return target.reshape(-1)

    def per_sample(self, values):
        return values.reshape(self.batch_shape)

    def like_input(self, rows):
        if len(self.input_shape) == 1:
            return rows[0]
        moved = rows.reshape(self.batch_shape[:1] + self.batch_shape[1:] + (self.input_shape[1],))
        return np.moveaxis(moved, -1, 1)


@dataclass
class _IndexTargets:
    labels: np.ndarray  # (M,) class index of each row, 0 where ignored
    counts: np.ndarray  # (M,) True for rows that are not ignored
    row_weight: np.ndarray  # (M,) weight of each row's class, 0 where ignored


def _index_targets(target, rows, weight, ignore_index, dtype):
    labels = rows.flatten_target(target)
    counts = labels != ignore_index
    labels = np.where(counts, labels, 0)
    class_weight = weight[labels] if weight is not None else np.ones(labels.shape, dtype)
    return _IndexTargets(labels, counts, np.where(counts, class_weight, 0).astype(dtype, copy=False))


def _reduce(per_row, denominator, reduction, rows):
    if reduction == "none":
        return rows.per_sample(per_row)
    total = per_row.sum()
    if reduction == "sum":
        return total
    # Like PyTorch, a batch whose samples are all ignored has mean 0/0 = nan.
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / denominator


def _scale_grad(grad_rows, denominator, reduction):
    if reduction != "mean":
        return grad_rows
    with np.errstate(invalid="ignore", divide="ignore"):
        return grad_rows / denominator


def _prepare_nll(log_probs, target, weight, ignore_index, reduction):
    log_probs = check.check_class_input(log_probs, "log_probs")
    check.check_reduction(reduction)
    ignore_index = check.check_integer(ignore_index, "ignore_index")
    target = check.check_class_indices(target, log_probs.shape, "log_probs", ignore_index)
    rows = _Rows.from_input(log_probs)
    weight = check.check_class_weight(weight, rows.scores.shape[1], rows.dtype)
    return rows, _index_targets(target, rows, weight, ignore_index, rows.dtype)


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of the target classes, given log-probabilities.

    Parameters
    ----------
    log_probs : array_like, shape (C,), (N, C) or (N, C, d1, ...)
        Log-probabilities, usually from :func:`~lossbook.stable.log_softmax`; classes on axis 1.
    target : array_like of int, shape (), (N,) or (N, d1, ...)
        Class index of each sample, in [0, C), or ``ignore_index``.
    weight : array_like, shape (C,), optional
        Weight of each class; a sample counts with the weight of its target class.
    ignore_index : int, default -100
        Samples with this target contribute nothing, to the sum or to the mean's denominator.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" divides the sum by the total weight of the counted samples (their number when
        `weight` is None); "none" returns one loss per sample.

    Returns
    -------
    numpy scalar or numpy.ndarray
        Same dtype as `log_probs`.

    Notes
    -----
    .. math:: \ell_i = -w_{y_i}\, \log p_{i, y_i}, \qquad
              L_{\text{mean}} = \frac{\sum_i \ell_i}{\sum_{i:\, y_i \ne \text{ignore}} w_{y_i}}

    Examples
    --------
    >>> from lossbook import log_softmax, nll_loss
    >>> nll_loss(log_softmax([[5, 4, 2]]), [0]).round(4)
    np.float64(0.3490)
    """
    rows, targets = _prepare_nll(log_probs, target, weight, ignore_index, reduction)
    picked = rows.scores[np.arange(len(targets.labels)), targets.labels]
    per_row = -targets.row_weight * picked
    return check.to_output(_reduce(per_row, targets.row_weight.sum(), reduction, rows), rows.dtype)


def nll_loss_grad(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    r"""Gradient of :func:`nll_loss` with respect to `log_probs`, shaped like it.

    Notes
    -----
    Only the target entry of each row is used, so the gradient is :math:`-w_{y_i}` there (divided
    by the mean's denominator) and 0 elsewhere.

    Examples
    --------
    >>> from lossbook import nll_loss_grad
    >>> nll_loss_grad([[-0.3, -1.3, -3.3], [-2.0, -0.2, -3.0]], [0, 1])
    array([[-0.5,  0. ,  0. ],
           [ 0. , -0.5,  0. ]])
    """
    rows, targets = _prepare_nll(log_probs, target, weight, ignore_index, reduction)
    grad = np.zeros_like(rows.scores)
    # Ignored rows keep an exact +0 (negating their zero weight would store -0.0).
    grad[np.arange(len(targets.labels)), targets.labels] = np.where(targets.counts, -targets.row_weight, 0)
    return rows.like_input(_scale_grad(grad, targets.row_weight.sum(), reduction))


def _prepare_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing):
    logits = check.check_class_input(logits, "logits")
    check.check_reduction(reduction)
    ignore_index = check.check_integer(ignore_index, "ignore_index")
    smoothing = check.check_label_smoothing(label_smoothing)
    rows = _Rows.from_input(logits)
    num_classes = rows.scores.shape[1]
    weight = check.check_class_weight(weight, num_classes, rows.dtype)
    target_array = np.asarray(target)
    if target_array.shape == logits.shape and logits.ndim > 0:
        if target_array.dtype.kind != "f":
            raise TypeError(
                f"target shaped like logits {logits.shape} holds class probabilities and must be "
                f"floating point; got dtype {target_array.dtype}"
            )
        probs = rows.flatten_target(target_array.astype(rows.dtype, copy=False))
        # Smoothing mixes the target with the uniform distribution over the C classes.
        probs = (1 - smoothing) * probs + smoothing / num_classes
        return rows, weight, smoothing, probs
    labels = check.check_class_indices(target_array, logits.shape, "logits", ignore_index)
    return rows, weight, smoothing, _index_targets(labels, rows, weight, ignore_index, rows.dtype)


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy between the softmax of `logits` and the target classes or distribution.

    Parameters
    ----------
    logits : array_like, shape (C,), (N, C) or (N, C, d1, ...)
        Unnormalized class scores; classes on axis 1.
    target : array_like
        Either class indices of shape (), (N,) or (N, d1, ...) (integers in [0, C) or
        `ignore_index`), or class probabilities shaped like `logits` (floating point).
    weight : array_like, shape (C,), optional
        Weight of each class.
    ignore_index : int, default -100
        For index targets: samples with this target count for nothing.
    reduction : {"mean", "sum", "none"}, default "mean"
        For index targets "mean" divides by the total weight of the counted samples; for
        probability targets it divides by the number of samples.
    label_smoothing : float in [0, 1], default 0.0
        Mix the target with the uniform distribution: :math:`q = (1 - \varepsilon)\, y + \varepsilon / C`.

    Returns
    -------
    numpy scalar or numpy.ndarray
        Same dtype as `logits`.

    Notes
    -----
    With :math:`p = \operatorname{softmax}(z)` and the smoothed target :math:`q`,

    .. math:: \ell_i = -\sum_c w_c\, q_{i,c} \log p_{i,c},

    which for a one-hot target and no smoothing is :math:`-w_{y_i} \log p_{i,y_i}`, the negative
    log-likelihood of :func:`~lossbook.stable.log_softmax`. For index targets with `weight`, the mean divides by
    :math:`\sum_i w_{y_i}` over the counted samples, as PyTorch does, smoothing term included.

    Examples
    --------
    >>> from lossbook import cross_entropy
    >>> cross_entropy([[5, 4, 2]], [0]).round(4)
    np.float64(0.3490)
    >>> cross_entropy([[5, 4, 2]], [[1.0, 0.0, 0.0]]).round(4)  # the same target as probabilities
    np.float64(0.3490)
    """
    rows, weight, smoothing, targets = _prepare_cross_entropy(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    log_probs = log_softmax(rows.scores)
    num_classes = rows.scores.shape[1]
    if isinstance(targets, _IndexTargets):
        picked = log_probs[np.arange(len(targets.labels)), targets.labels]
        per_row = -(1 - smoothing) * targets.row_weight * picked
        if smoothing:
            weighted = log_probs * weight if weight is not None else log_probs
            per_row = per_row - smoothing / num_classes * np.where(targets.counts, weighted.sum(axis=1), 0)
        denominator = targets.row_weight.sum()
    else:
        weighted_target = targets * weight if weight is not None else targets
        per_row = -(weighted_target * log_probs).sum(axis=1)
        denominator = len(per_row)
    return check.to_output(_reduce(per_row, denominator, reduction, rows), rows.dtype)


def cross_entropy_grad(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Gradient of :func:`cross_entropy` with respect to `logits`, shaped like them.

    Notes
    -----
    For one sample with weighted smoothed target :math:`u_c = w_c q_c`,

    .. math:: \frac{\partial \ell}{\partial z_j} = \Big(\sum_c u_c\Big)\, p_j - u_j,

    which is the familiar :math:`p - y` for a one-hot target, no weights and no smoothing. Each
    row of that gradient sums to zero when the weights are equal and the target sums to one.

    Examples
    --------
    >>> from lossbook import cross_entropy_grad
    >>> cross_entropy_grad([[5, 4, 2]], [0]).round(4)  # softmax minus the one-hot target
    array([[-0.2946,  0.2595,  0.0351]])
    """
    rows, weight, smoothing, targets = _prepare_cross_entropy(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    probs = np.exp(log_softmax(rows.scores))
    num_classes = rows.scores.shape[1]
    if isinstance(targets, _IndexTargets):
        grad = (1 - smoothing) * targets.row_weight[:, None] * probs
        grad[np.arange(len(targets.labels)), targets.labels] -= (1 - smoothing) * targets.row_weight
        if smoothing:
            class_weight = weight if weight is not None else np.ones(num_classes, rows.dtype)
            uniform_part = class_weight.sum() * probs - class_weight
            grad += smoothing / num_classes * np.where(targets.counts[:, None], uniform_part, 0)
        denominator = targets.row_weight.sum()
    else:
        weighted_target = targets * weight if weight is not None else targets
        grad = weighted_target.sum(axis=1, keepdims=True) * probs - weighted_target
        denominator = len(grad)
    return rows.like_input(_scale_grad(grad, denominator, reduction).astype(rows.dtype, copy=False))


def _prepare_margin(logits, target, margin, p, weight, reduction):
    logits = check.check_class_input(logits, "logits")
    if logits.ndim > 2:
        raise ValueError(f"logits must have shape (C,) or (N, C); got {logits.shape}")
    check.check_reduction(reduction)
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)):
        raise TypeError(f"margin must be a real number; got {type(margin).__name__}")
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    target = check.check_class_indices(target, logits.shape, "logits", ignore_index=None)
    rows = _Rows.from_input(logits)
    weight = check.check_class_weight(weight, rows.scores.shape[1], rows.dtype)
    labels = target.reshape(-1)
    scores = rows.scores
    # z_ij = margin - x_{i,y_i} + x_ij for every wrong class j; the target's own entry does not count.
    gaps = margin - scores[np.arange(len(labels)), labels][:, None] + scores
    gaps[np.arange(len(labels)), labels] = 0
    active = gaps > 0
    row_weight = weight[labels] if weight is not None else np.ones(len(labels), rows.dtype)
    return rows, labels, gaps, active, row_weight


def multi_margin_loss(logits, target, margin=1.0, weight=None, reduction="mean", *, p=1):
    r"""The multiclass hinge (SVM) loss of CS231n, as ``torch.nn.functional.multi_margin_loss``.

    Parameters
    ----------
    logits : array_like, shape (C,) or (N, C)
    target : array_like of int, shape () or (N,)
    margin : float, default 1.0
        How far the correct score must lead every other score before the loss is zero.
    weight : array_like, shape (C,), optional
        Multiplies a sample's loss by the weight of its target class.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean" averages over the N samples.
    p : {1, 2}, keyword-only, default 1
        Hinge (1) or squared hinge (2).

    Notes
    -----
    .. math:: \ell_i = \frac{w_{y_i}}{C} \sum_{j \ne y_i} \max(0,\ m - x_{i, y_i} + x_{i, j})^p

    Examples
    --------
    >>> from lossbook import multi_margin_loss
    >>> multi_margin_loss([[3.0, 2.5, 0.0]], [0]).round(4)  # only class 1 is inside the margin: 0.5 / 3
    np.float64(0.1667)
    """
    rows, labels, gaps, active, row_weight = _prepare_margin(logits, target, margin, p, weight, reduction)
    hinge = np.where(active, gaps, 0) ** p
    per_row = row_weight * hinge.sum(axis=1) / rows.scores.shape[1]
    return check.to_output(_reduce(per_row, len(per_row), reduction, rows), rows.dtype)


def multi_margin_loss_grad(logits, target, margin=1.0, weight=None, reduction="mean", *, p=1):
    r"""Gradient of :func:`multi_margin_loss` with respect to `logits` (0 exactly at the hinge's kink).

    Notes
    -----
    Each wrong class inside the margin gets :math:`w_{y_i}\, p\, z_{ij}^{p-1} / C`, and the
    target class minus their sum.
    """
    rows, labels, gaps, active, row_weight = _prepare_margin(logits, target, margin, p, weight, reduction)
    slopes = np.where(active, p * gaps ** (p - 1), 0) * (row_weight[:, None] / rows.scores.shape[1])
    grad = slopes.copy()
    grad[np.arange(len(labels)), labels] = -slopes.sum(axis=1)
    return rows.like_input(_scale_grad(grad, len(grad), reduction).astype(rows.dtype, copy=False))


def _prepare_kl(input, target, reduction, log_target):
    input = check.as_float_array(input, "input")
    target = check.as_float_array(target, "target").astype(input.dtype, copy=False)
    if input.shape != target.shape:
        raise ValueError(f"input and target must have the same shape (no broadcasting); got {input.shape} and {target.shape}")
    if input.ndim == 0 or input.shape[0] == 0:
        raise ValueError(f"input must have a non-empty batch axis 0; got shape {input.shape}")
    if not isinstance(reduction, str) or reduction not in ("batchmean", "mean", "sum", "none"):
        raise ValueError(f"reduction must be one of ('batchmean', 'mean', 'sum', 'none'); got {reduction!r}")
    if not isinstance(log_target, bool):
        raise TypeError(f"log_target must be True or False; got {type(log_target).__name__}")
    if not log_target and np.any(target < 0):
        raise ValueError("target holds probabilities, which must be >= 0 (pass log_target=True for log-probabilities)")
    return input, target


def _kl_denominator(input, reduction):
    return {"batchmean": input.shape[0], "mean": input.size, "sum": 1}[reduction]


def kl_div(input, target, reduction="batchmean", log_target=False):
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(q \,\|\, p)` from log-probabilities `input`.

    Parameters
    ----------
    input : array_like, shape (N, ...)
        Log-probabilities :math:`\log p` of the model (for example from :func:`~lossbook.stable.log_softmax`).
    target : array_like, same shape
        Probabilities :math:`q` (or :math:`\log q` with ``log_target=True``).
    reduction : {"batchmean", "mean", "sum", "none"}, default "batchmean"
        "batchmean" divides the sum by N, which is the KL divergence per sample. (PyTorch's default
        is "mean", which divides by every element and so is not a KL divergence; it warns about it.)
    log_target : bool, default False

    Notes
    -----
    Elementwise :math:`q (\log q - \log p)`, with :math:`0 \log 0 = 0`.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import kl_div
    >>> kl_div(np.log([[0.5, 0.5]]), [[0.9, 0.1]]).round(4)
    np.float64(0.3681)
    """
    input, target = _prepare_kl(input, target, reduction, log_target)
    if log_target:
        losses = np.exp(target) * (target - input)
    else:
        # 0 log 0 = 0: a class the target never uses costs nothing, whatever the model says.
        with np.errstate(divide="ignore", invalid="ignore"):
            losses = np.where(target > 0, target * (np.log(target) - input), 0)
    if reduction == "none":
        return check.to_output(losses, input.dtype)
    return check.to_output(losses.sum() / _kl_denominator(input, reduction), input.dtype)


def kl_div_grad(input, target, reduction="batchmean", log_target=False):
    r"""Gradient of :func:`kl_div` with respect to `input`: :math:`-q` per element, scaled by the reduction."""
    input, target = _prepare_kl(input, target, reduction, log_target)
    grad = -np.exp(target) if log_target else -target
    denominator = 1 if reduction == "none" else _kl_denominator(input, reduction)
    return (grad / denominator).astype(input.dtype, copy=False)
