"""Losses over C classes: negative log-likelihood, cross-entropy, multi-margin (hinge) and KL divergence.

Semantics follow ``torch.nn.functional``: class scores sit on axis 1 (shapes (C,), (N, C) or
(N, C, d1, ...)), targets are class indices or, for cross-entropy, class probabilities shaped like the
scores; ``weight`` rescales classes, ``ignore_index`` drops samples, and ``reduction="mean"`` divides
by the total weight of the samples that count. Everything after the target is keyword-only, so that
a call ported from PyTorch with positional options fails loudly instead of meaning something else.

Every ``name_grad`` takes the same arguments as ``name`` and returns the gradient of the loss with
respect to its first argument, shaped like it; for ``reduction="none"`` it is the gradient of the
sum of the per-sample losses. These are the readable reference versions;
:func:`~lossbook.fused.cross_entropy_value_and_grad` computes both at once, faster.

``nll_loss``, ``cross_entropy`` and ``kl_div`` (and their twins) accept float16 and bfloat16 scores
and return that dtype: they compute in float32 and round once at the end, as
:mod:`lossbook.stable` does. ``multi_margin_loss`` refuses them, as PyTorch's CPU kernel does.
"""

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses
from lossbook.stable import log_softmax, softmax


def _to_rows(x):
    """Class scores of shape (C,), (N, C) or (N, C, d1, ...) as rows (M, C): one row per sample and position."""
    if x.ndim == 1:
        return x[None, :]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows, shape):
    """Undo :func:`_to_rows`: rows (M, C) back to the layout `shape` of the scores."""
    if len(shape) == 1:
        return rows[0]
    moved = rows.reshape((shape[0], *shape[2:], shape[1]))
    return np.moveaxis(moved, -1, 1)


def _sample_shape(shape):
    """The shape of one loss per sample: the scores' shape without the class axis."""
    return shape[:1] + shape[2:] if len(shape) >= 2 else ()


def _check_index_target(x, target, name, weight, ignore_index):
    """Class labels as rows (M,), which rows count, the weight of each row (0 where ignored), the class weights."""
    ignore_index = check.check_integer(ignore_index, "ignore_index")
    labels = check.check_class_indices(target, x.shape, name, ignore_index).reshape(-1)
    class_weight = check.check_class_weight(weight, x.shape[min(1, x.ndim - 1)], x.dtype)
    counted = labels != ignore_index
    labels = np.where(counted, labels, 0)  # any valid index: an ignored row weighs 0 and is masked out
    row_weight = class_weight[labels] if class_weight is not None else np.ones(len(labels), x.dtype)
    return labels, counted, np.where(counted, row_weight, 0).astype(x.dtype), class_weight


def _check_nll(log_probs, target, weight, ignore_index, reduction):
    log_probs, dtype = check.upcast(check.check_class_input(log_probs, "log_probs", half=True))
    check.check_reduction(reduction)
    labels, counted, row_weight, _ = _check_index_target(log_probs, target, "log_probs", weight, ignore_index)
    return log_probs, labels, counted, row_weight, dtype


def nll_loss(log_probs, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of the target classes, given log-probabilities.

    Parameters
    ----------
    log_probs : array_like, shape (C,), (N, C) or (N, C, d1, ...)
        Log-probabilities, usually from :func:`~lossbook.stable.log_softmax`; classes on axis 1.
    target : array_like of int, shape (), (N,) or (N, d1, ...)
        Class index of each sample, in [0, C), or ``ignore_index``.
    weight : array_like, shape (C,), optional, keyword-only
        Weight of each class; a sample counts with the weight of its target class.
    ignore_index : int, default -100, keyword-only
        Samples with this target contribute nothing, to the sum or to the mean's denominator.
    reduction : {"mean", "sum", "none"}, default "mean", keyword-only
        "mean" divides the sum by the total weight of the counted samples (their number when
        `weight` is None); "none" returns one loss per sample.

    Returns
    -------
    numpy scalar or numpy.ndarray
        Same dtype as `log_probs`. The mean over no counted sample (every target ignored, or an
        empty batch) is nan, as in PyTorch; its gradient is zero.

    Notes
    -----
    .. math:: \ell_i = -\alpha_{y_i}\, \log p_{i, y_i}, \qquad
              L_{\text{mean}} = \frac{\sum_i \ell_i}{\sum_{i:\, y_i \ne \text{ignore}} \alpha_{y_i}}

    Examples
    --------
    >>> from lossbook import log_softmax, nll_loss
    >>> nll_loss(log_softmax([[5, 4, 2]]), [0]).round(4)
    np.float64(0.3490)
    """
    log_probs, labels, counted, row_weight, dtype = _check_nll(log_probs, target, weight, ignore_index, reduction)
    rows = _to_rows(log_probs)
    picked = rows[np.arange(len(labels)), labels]  # log p_{i, y_i}
    # An ignored sample costs nothing, even where its row holds -inf or nan.
    losses = row_weight * np.where(counted, -picked, 0)
    return reduce_losses(losses.reshape(_sample_shape(log_probs.shape)), reduction, dtype, row_weight.sum())


def nll_loss_grad(log_probs, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r"""Gradient of :func:`nll_loss` with respect to `log_probs`, shaped like it.

    Notes
    -----
    Only the target entry of each row is used, so the gradient is :math:`-\alpha_{y_i}` there (divided
    by the mean's denominator) and 0 elsewhere.

    Examples
    --------
    >>> from lossbook import nll_loss_grad
    >>> nll_loss_grad([[-0.3, -1.3, -3.3], [-2.0, -0.2, -3.0]], [0, 1])
    array([[-0.5,  0. ,  0. ],
           [ 0. , -0.5,  0. ]])
    """
    log_probs, labels, _, row_weight, dtype = _check_nll(log_probs, target, weight, ignore_index, reduction)
    grad = np.zeros_like(_to_rows(log_probs))
    grad[np.arange(len(labels)), labels] -= row_weight
    grad = reduce_grad(grad, reduction, dtype, row_weight.sum())
    return _from_rows(grad, log_probs.shape)


def _check_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing):
    """Checked logits to compute with, the smoothed target q as rows (M, C), the class weights (1 when
    None), which rows count, the mean's denominator, and the dtype to return.

    Index targets become one-hot rows (zero rows where ignored); probability targets stay as they
    are. Label smoothing mixes either with the uniform distribution.
    """
    logits, dtype = check.upcast(check.check_class_input(logits, "logits", half=True))
    check.check_reduction(reduction)
    smoothing = check.check_label_smoothing(label_smoothing)
    target = np.asarray(target)
    num_classes = logits.shape[min(1, logits.ndim - 1)]
    if target.shape == logits.shape:  # class probabilities
        if target.dtype.kind != "f" and not check.is_half_precision(target.dtype):
            raise TypeError(
                f"target shaped like logits {logits.shape} holds class probabilities and must be "
                f"floating point; got dtype {target.dtype}"
            )
        class_weight = check.check_class_weight(weight, num_classes, logits.dtype)
        y = _to_rows(target.astype(logits.dtype))
        counted = np.ones(len(y), bool)
        denominator = len(y)  # the number of samples, whatever the weights (PyTorch's convention)
    else:  # class indices
        labels, counted, row_weight, class_weight = _check_index_target(logits, target, "logits", weight, ignore_index)
        y = np.zeros((len(labels), num_classes), logits.dtype)
        y[np.arange(len(labels)), labels] = 1  # one-hot rows
        denominator = row_weight.sum()  # the total weight of the counted samples
    q = (1 - smoothing) * y + smoothing / num_classes  # the smoothed target
    q[~counted] = 0  # an ignored sample has no target at all
    w = class_weight if class_weight is not None else 1.0
    return logits, q, w, counted, denominator, dtype


def cross_entropy(logits, target, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy between the softmax of `logits` and the target classes or distribution.

    Parameters
    ----------
    logits : array_like, shape (C,), (N, C) or (N, C, d1, ...)
        Unnormalized class scores; classes on axis 1.
    target : array_like
        Either class indices of shape (), (N,) or (N, d1, ...) (integers in [0, C) or
        `ignore_index`), or class probabilities shaped like `logits` (floating point).
    weight : array_like, shape (C,), optional, keyword-only
        Weight of each class.
    ignore_index : int, default -100, keyword-only
        For index targets: samples with this target count for nothing.
    reduction : {"mean", "sum", "none"}, default "mean", keyword-only
        For index targets "mean" divides by the total weight of the counted samples; for
        probability targets it divides by the number of samples.
    label_smoothing : float in [0, 1], default 0.0, keyword-only
        Mix the target with the uniform distribution: :math:`q = (1 - \varepsilon)\, y + \varepsilon / C`.

    Returns
    -------
    numpy scalar or numpy.ndarray
        Same dtype as `logits`. The mean over no counted sample (every target ignored, or an empty
        batch) is nan, as in PyTorch; its gradient is zero.

    Notes
    -----
    With :math:`p = \operatorname{softmax}(z)` and the smoothed target :math:`q`,

    .. math:: \ell_i = -\sum_c \alpha_c\, q_{i,c} \log p_{i,c},

    which for a one-hot target and no smoothing is :math:`-\alpha_{y_i} \log p_{i,y_i}`, the negative
    log-likelihood of :func:`~lossbook.stable.log_softmax`. For index targets with `weight`, the mean
    divides by :math:`\sum_i \alpha_{y_i}` over the counted samples, as PyTorch does, smoothing term included.

    Examples
    --------
    >>> from lossbook import cross_entropy
    >>> cross_entropy([[5, 4, 2]], [0]).round(4)
    np.float64(0.3490)
    >>> cross_entropy([[5, 4, 2]], [[1.0, 0.0, 0.0]]).round(4)  # the same target as probabilities
    np.float64(0.3490)
    """
    logits, q, w, counted, denominator, dtype = _check_cross_entropy(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    log_p = log_softmax(_to_rows(logits), axis=1)
    log_p[~counted] = 0  # an ignored sample costs nothing, even where its scores are not finite
    losses = np.sum(w * q * -log_p, axis=1)  # -sum_c alpha_c q_c log p_c (w holds the alpha_c), one loss per row
    return reduce_losses(losses.reshape(_sample_shape(logits.shape)), reduction, dtype, denominator)


def cross_entropy_grad(logits, target, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Gradient of :func:`cross_entropy` with respect to `logits`, shaped like them.

    Notes
    -----
    For one sample with weighted smoothed target :math:`u_c = \alpha_c q_c`,

    .. math:: \frac{\partial \ell}{\partial z_j} = \Big(\sum_c u_c\Big)\, p_j - u_j,

    which is the familiar :math:`p - y` for a one-hot target, no weights and no smoothing. Each
    row of that gradient sums to zero when the weights are equal and the target sums to one.

    Examples
    --------
    >>> from lossbook import cross_entropy_grad
    >>> cross_entropy_grad([[5, 4, 2]], [0]).round(4)  # softmax minus the one-hot target
    array([[-0.2946,  0.2595,  0.0351]])
    """
    logits, q, w, counted, denominator, dtype = _check_cross_entropy(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    p = softmax(_to_rows(logits), axis=1)
    p[~counted] = 0  # an ignored sample has no gradient, even where its scores are not finite
    u = w * q  # the weighted smoothed target
    grad = np.sum(u, axis=1, keepdims=True) * p - u
    return _from_rows(reduce_grad(grad, reduction, dtype, denominator), logits.shape)


def _check_multi_margin(logits, target, p, margin, weight, reduction):
    """Checked scores and labels, and the margin gaps gaps[i, j] = margin - x[i, y_i] + x[i, j] as rows.

    Returns the scores, their shape, the shape of the per-sample losses, the labels (M,), the gaps
    (M, C) and the weight of each row.
    """
    logits = check.as_float_array(logits, "logits")
    shape, sample_shape = logits.shape, _sample_shape(logits.shape)
    if logits.ndim <= 1 and np.shape(target) == (1,):  # one sample, its target given as [y] (PyTorch accepts it)
        sample_shape, target = (1,), np.reshape(target, ())
    if logits.ndim == 0:  # one score is one class, as in PyTorch
        logits = logits.reshape(1)
    logits = check.check_class_input(logits, "logits")
    if logits.ndim > 2:
        raise ValueError(f"logits must have shape (C,) or (N, C); got {logits.shape}")
    check.check_reduction(reduction)
    margin = check.check_real_number(margin, "margin")
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    labels = check.check_class_indices(target, logits.shape, "logits", ignore_index=None).reshape(-1)
    class_weight = check.check_class_weight(weight, logits.shape[-1], logits.dtype)
    rows = _to_rows(logits)
    picked = rows[np.arange(len(labels)), labels][:, None]  # x_{i, y_i}
    gaps = margin - picked + rows  # gaps[i, j] = margin - x[i, y_i] + x[i, j]
    gaps[np.arange(len(labels)), labels] = 0  # the target's own entry does not count
    row_weight = class_weight[labels] if class_weight is not None else np.ones(len(labels), logits.dtype)
    return logits, shape, sample_shape, labels, gaps, row_weight


def multi_margin_loss(logits, target, *, p=1, margin=1.0, weight=None, reduction="mean"):
    r"""The multiclass hinge (SVM) loss of CS231n, as ``torch.nn.functional.multi_margin_loss``.

    Parameters
    ----------
    logits : array_like, shape (), (C,) or (N, C)
    target : array_like of int, shape () or (N,)
    p : {1, 2}, default 1, keyword-only
        Hinge (1) or squared hinge (2).
    margin : float, default 1.0, keyword-only
        How far the correct score must lead every other score before the loss is zero.
    weight : array_like, shape (C,), optional, keyword-only
        Multiplies a sample's loss by the weight of its target class.
    reduction : {"mean", "sum", "none"}, default "mean", keyword-only
        "mean" averages over the N samples.

    Notes
    -----
    .. math:: \ell_i = \frac{\alpha_{y_i}}{C} \sum_{j \ne y_i} \max(0,\ m - x_{i, y_i} + x_{i, j})^p

    Examples
    --------
    >>> from lossbook import multi_margin_loss
    >>> multi_margin_loss([[3.0, 2.5, 0.0]], [0]).round(4)  # only class 1 is inside the margin: 0.5 / 3
    np.float64(0.1667)
    """
    checked = _check_multi_margin(logits, target, p, margin, weight, reduction)
    logits, _, sample_shape, labels, gaps, row_weight = checked
    hinge = np.maximum(gaps, 0) ** p  # max(0, gaps[i, j])^p
    losses = row_weight * np.sum(hinge, axis=1) / gaps.shape[1]
    return reduce_losses(losses.reshape(sample_shape), reduction, logits.dtype)


def multi_margin_loss_grad(logits, target, *, p=1, margin=1.0, weight=None, reduction="mean"):
    r"""Gradient of :func:`multi_margin_loss` with respect to `logits` (0 exactly at the hinge's kink).

    Notes
    -----
    Each wrong class :math:`j` inside the margin gets
    :math:`\alpha_{y_i}\, p\, (m - x_{i y_i} + x_{ij})^{p-1} / C`, and the target class minus their sum.
    """
    logits, shape, _, labels, gaps, row_weight = _check_multi_margin(logits, target, p, margin, weight, reduction)
    active = gaps > 0  # the hinge's derivative: 1 inside the margin, 0 outside and at the kink
    slopes = active * p * np.maximum(gaps, 0) ** (p - 1) * row_weight[:, None] / gaps.shape[1]
    grad = slopes.copy()
    grad[np.arange(len(labels)), labels] -= np.sum(slopes, axis=1)  # x_{i, y_i} enters every gap with a minus
    grad = reduce_grad(grad, reduction, logits.dtype, len(labels))
    return _from_rows(grad, logits.shape).reshape(shape)


KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def _check_kl(input, target, reduction, log_target):
    """Checked arrays to compute with, the reduction with its denominator ("batchmean" is a mean over the
    batch), and the dtype to return."""
    input, dtype = check.upcast(check.as_float_array(input, "input", half=True))
    target = check.check_shaped_like(target, "target", input, "input", half=True)
    if not isinstance(reduction, str) or reduction not in KL_REDUCTIONS:
        raise ValueError(f"reduction must be one of {KL_REDUCTIONS}; got {reduction!r}")
    if not isinstance(log_target, bool):
        raise TypeError(f"log_target must be True or False; got {type(log_target).__name__}")
    if not log_target and np.any(target < 0):
        raise ValueError("target holds probabilities, which must be >= 0 (pass log_target=True for log-probabilities)")
    # "batchmean" divides by the batch size (axis 0; a scalar is a batch of one), "mean" by the element count.
    batch = input.shape[0] if input.ndim else 1
    denominator = {"batchmean": batch, "mean": input.size}.get(reduction)
    return input, target, ("mean" if reduction == "batchmean" else reduction), denominator, dtype


def kl_div(input, target, *, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(q \,\|\, p)` from log-probabilities `input`.

    Parameters
    ----------
    input : array_like, shape (N, ...) or ()
        Log-probabilities :math:`\log p` of the model (for example from :func:`~lossbook.stable.log_softmax`).
    target : array_like, same shape
        Probabilities :math:`q` (or :math:`\log q` with ``log_target=True``).
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean", keyword-only
        PyTorch's default "mean" divides the sum by the number of *elements*, which is not a KL
        divergence. "batchmean" divides by the batch size N: the KL divergence per sample, which
        is what the mathematics means (PyTorch warns about "mean" for that reason).
    log_target : bool, default False, keyword-only

    Notes
    -----
    Elementwise :math:`q (\log q - \log p)`, with :math:`0 \log 0 = 0`.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import kl_div
    >>> kl_div(np.log([[0.5, 0.5]]), [[0.9, 0.1]], reduction="batchmean").round(4)
    np.float64(0.3681)
    >>> kl_div(np.log([[0.5, 0.5]]), [[0.9, 0.1]]).round(4)  # PyTorch's default: divided by 2 elements
    np.float64(0.1840)
    """
    input, target, reduction, denominator, dtype = _check_kl(input, target, reduction, log_target)
    if log_target:
        with np.errstate(invalid="ignore"):  # a target of -inf: 0 * inf = nan, as in PyTorch
            losses = np.exp(target) * (target - input)
    else:
        # 0 log 0 = 0: a class the target never uses costs nothing, whatever the model says.
        with np.errstate(divide="ignore", invalid="ignore"):
            losses = np.where(target > 0, target * (np.log(target) - input), 0)
    return reduce_losses(losses, reduction, dtype, denominator)


def kl_div_grad(input, target, *, reduction="mean", log_target=False):
    r"""Gradient of :func:`kl_div` with respect to `input`: :math:`-q` per element, scaled by the reduction."""
    input, target, reduction, denominator, dtype = _check_kl(input, target, reduction, log_target)
    q = np.exp(target) if log_target else target
    return reduce_grad(-q, reduction, dtype, denominator)
