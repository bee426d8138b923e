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
from lossbook._blocks import for_each_row_block, scratch
from lossbook.stable import _finite_max, _row_sum, log_softmax


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
        if x.ndim == 2:  # already one row per sample (np.moveaxis would cost more than the small losses)
            return cls(x, x.shape[:1], x.shape, x.dtype)
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
        if len(self.input_shape) == 2:
            return rows
        moved = rows.reshape(self.batch_shape[:1] + self.batch_shape[1:] + (self.input_shape[1],))
        return np.moveaxis(moved, -1, 1)


@dataclass
class _IndexTargets:
    labels: np.ndarray  # (M,) class index of each row, 0 where ignored
    counts: np.ndarray  # (M,) True for rows that are not ignored
    row_weight: np.ndarray  # (M,) weight of each row's class, 0 where ignored


@dataclass
class _PlainLabels:
    """Index targets with no class weight, no smoothing and no ignored sample: the common case, with its own kernel."""

    labels: np.ndarray  # (M,) class index of each row


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
    flat_labels = rows.flatten_target(labels)
    # The row kernel needs rows contiguous in memory; every other case takes the general formulas.
    if weight is None and not smoothing and rows.scores.flags.c_contiguous and not (flat_labels == ignore_index).any():
        return rows, weight, smoothing, _PlainLabels(flat_labels)
    return rows, weight, smoothing, _index_targets(labels, rows, weight, ignore_index, rows.dtype)


def _plain_cross_entropy_rows(scores, labels, grad_divisor=None):
    """Per-row losses of the plain case and, unless `grad_divisor` is None, the gradient, in one pass.

    Works through row blocks (see ``lossbook._blocks``): shift by the row maximum, exponentiate,
    sum, take the log for the losses, and scale the same exponentials into the gradient
    ``(softmax - one_hot) / grad_divisor``, so that exp runs once per element for both results.
    """
    n_rows, n_classes = scores.shape
    losses = np.empty(n_rows, scores.dtype)
    grad = None if grad_divisor is None else np.empty_like(scores)

    def block(start, stop):
        x = scores[start:stop]
        # The exponentials are computed in the gradient's own rows, or in scratch space when there is none.
        exps = scratch(x.shape, x.dtype) if grad is None else grad[start:stop]
        # Flat positions of the targets: 1-D fancy indexing is about three times faster than (row, label) pairs.
        targets = np.arange(stop - start) * n_classes + labels[start:stop]
        np.subtract(x, _finite_max(x, 1), out=exps)
        log_p = exps.reshape(-1)[targets]  # the shifted target scores, read before exp overwrites them
        np.exp(exps, out=exps)
        sums = _row_sum(exps)
        with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row gives nan, as log_softmax does
            np.subtract(log_p, np.log(sums), out=log_p)
            np.negative(log_p, out=losses[start:stop])
            if grad is not None:
                np.divide(exps, (sums * grad_divisor)[:, None], out=exps)  # softmax and the mean's 1/N in one pass
                exps.reshape(-1)[targets] -= 1 / grad_divisor

    for_each_row_block(block, n_rows, n_classes)
    return losses, grad


def _cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing, want_value, want_grad):
    """The value and/or the gradient of :func:`cross_entropy`, sharing the softmax between them."""
    rows, weight, smoothing, targets = _prepare_cross_entropy(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    value = grad = None
    if isinstance(targets, _PlainLabels):
        count = len(targets.labels)
        per_row, grad_rows = _plain_cross_entropy_rows(
            rows.scores, targets.labels, (count if reduction == "mean" else 1) if want_grad else None
        )
        if want_value:
            value = check.to_output(_reduce(per_row, rows.dtype.type(count), reduction, rows), rows.dtype)
        if want_grad:
            grad = rows.like_input(grad_rows)
        return value, grad
    log_probs = log_softmax(rows.scores)
    num_classes = rows.scores.shape[1]
    if isinstance(targets, _IndexTargets):
        denominator = targets.row_weight.sum()
    else:
        weighted_target = targets * weight if weight is not None else targets
        denominator = len(targets)
    if want_value:
        if isinstance(targets, _IndexTargets):
            picked = log_probs[np.arange(len(targets.labels)), targets.labels]
            per_row = -(1 - smoothing) * targets.row_weight * picked
            if smoothing:
                weighted = log_probs * weight if weight is not None else log_probs
                per_row = per_row - smoothing / num_classes * np.where(targets.counts, weighted.sum(axis=1), 0)
        else:
            per_row = -(weighted_target * log_probs).sum(axis=1)
        value = check.to_output(_reduce(per_row, denominator, reduction, rows), rows.dtype)
    if want_grad:
        probs = np.exp(log_probs)
        if isinstance(targets, _IndexTargets):
            grad = (1 - smoothing) * targets.row_weight[:, None] * probs
            grad[np.arange(len(targets.labels)), targets.labels] -= (1 - smoothing) * targets.row_weight
            if smoothing:
                class_weight = weight if weight is not None else np.ones(num_classes, rows.dtype)
                uniform_part = class_weight.sum() * probs - class_weight
                grad += smoothing / num_classes * np.where(targets.counts[:, None], uniform_part, 0)
        else:
            grad = weighted_target.sum(axis=1, keepdims=True) * probs - weighted_target
        grad = rows.like_input(_scale_grad(grad, denominator, reduction).astype(rows.dtype, copy=False))
    return value, grad


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
    value, _ = _cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing, True, False)
    return value


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
    _, grad = _cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing, False, True)
    return grad


def cross_entropy_value_and_grad(
    logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    r"""Both :func:`cross_entropy` and :func:`cross_entropy_grad`, for the cost of one.

    A training step needs the loss and its gradient at the same scores. Calling the two functions
    checks the input twice and computes the softmax twice; this computes the exponentials once and
    uses them for both. Same arguments as :func:`cross_entropy`.

    Returns
    -------
    value : numpy scalar or numpy.ndarray
        What :func:`cross_entropy` returns.
    grad : numpy.ndarray
        What :func:`cross_entropy_grad` returns, shaped like `logits`.

    Examples
    --------
    >>> from lossbook import cross_entropy_value_and_grad
    >>> value, grad = cross_entropy_value_and_grad([[5, 4, 2]], [0])
    >>> value.round(4), grad.round(4)
    (np.float64(0.349), array([[-0.2946,  0.2595,  0.0351]]))
    """
    return _cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing, True, True)


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
    # 0 - sum rather than -sum: a sample with no active class keeps an exact +0, not -0.0.
    grad[np.arange(len(labels)), labels] = 0 - slopes.sum(axis=1)
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
