"""Losses for yes/no outputs such as the objectness score: binary cross-entropy with logits and focal loss.

``binary_cross_entropy_with_logits`` follows ``torch.nn.functional``; ``sigmoid_focal_loss`` follows
``torchvision.ops.sigmoid_focal_loss``. Both take logits and work through :func:`~lossbook.stable.log_sigmoid` and
:func:`~lossbook.stable.sigmoid`, never ``log(sigmoid(x))``, so they stay finite at any logit.
"""

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses
from lossbook._blocks import for_each_row_block, scratch
from lossbook.stable import log_sigmoid, sigmoid


def _prepare(logits, target, reduction):
    logits = check.as_float_array(logits, "logits")
    target = check.check_shaped_like(target, "target", logits, "logits")
    if logits.size == 0:
        raise ValueError(f"logits is empty (shape {logits.shape}); the loss of nothing is undefined")
    check.check_reduction(reduction)
    return logits, target


def _elementwise_factor(value, name, shape, dtype):
    """A weight that is a scalar, one entry per class (the last axis), or one entry per element."""
    if value is None:
        return None
    value = check.as_float_array(value, name)
    allowed = {(), shape[-1:], shape}
    if value.shape not in allowed:
        raise ValueError(
            f"{name} must have shape (), {shape[-1:]} (one per class, last axis) or {shape}; got {value.shape}"
        )
    return value.astype(dtype, copy=False)


def _bce_with_logits(logits, target, weight, pos_weight, reduction, want_value, want_grad):
    """The value and/or the gradient of binary cross-entropy with logits, sharing exp(-|x|) between them.

    Works through row blocks of the logits seen as (M, C) (see ``lossbook._blocks``), every
    intermediate in a reused scratch buffer. The formulas are those of :func:`log_sigmoid` and
    :func:`sigmoid`, written out so that both results come from one exp per element.
    """
    logits, target = _prepare(logits, target, reduction)
    weight = _elementwise_factor(weight, "weight", logits.shape, logits.dtype)
    pos_weight = _elementwise_factor(pos_weight, "pos_weight", logits.shape, logits.dtype)
    shape, dtype = logits.shape, logits.dtype
    n_cols = shape[-1] if shape else 1
    x_rows, y_rows = logits.reshape(-1, n_cols), target.reshape(-1, n_cols)
    # A factor shaped like the logits is cut into the same row blocks; a scalar or per-class one broadcasts.
    factors = [f.reshape(-1, n_cols) if f is not None and f.shape == shape and f.ndim else f for f in (weight, pos_weight)]
    losses = np.empty(x_rows.shape, dtype) if want_value and reduction == "none" else None
    block_sums = {}  # start row -> sum of the block's losses, for "mean" and "sum"
    grad = np.empty(x_rows.shape, dtype) if want_grad else None

    def block(start, stop):
        x, y = x_rows[start:stop], y_rows[start:stop]
        w, pw = (f[start:stop] if f is not None and f.ndim == 2 else f for f in factors)
        buffer = [scratch(x.shape, dtype, slot) for slot in range(4)]
        e = np.exp(np.negative(np.abs(x, out=buffer[0]), out=buffer[0]), out=buffer[0])  # exp(-|x|) <= 1
        if want_value:
            softplus_tail = np.log1p(e, out=buffer[1])  # log(1 + exp(-|x|)), in both log sigma(x) and log sigma(-x)
            # -log sigma(x) = tail - min(x, 0) and -log sigma(-x) = tail + max(x, 0): the loss is
            # y (-log sigma(x)) + (1 - y)(-log sigma(-x)), each term computed without cancellation.
            # With reduction="none" the losses are built right in the output's rows.
            losses_rows = buffer[2] if losses is None else losses[start:stop]
            np.subtract(softplus_tail, np.minimum(x, 0, out=losses_rows), out=losses_rows)
            losses_rows *= y
            if pw is not None:
                np.multiply(pw, losses_rows, out=losses_rows)
            negative_part = np.add(softplus_tail, np.maximum(x, 0, out=buffer[3]), out=buffer[3])
            negative_part *= np.subtract(1, y, out=buffer[1])
            losses_rows += negative_part
            if w is not None:
                np.multiply(w, losses_rows, out=losses_rows)
            if losses is None:
                block_sums[start] = losses_rows.sum()
        if want_grad:
            g = grad[start:stop]
            small = np.divide(e, np.add(e, 1, out=buffer[1]), out=buffer[1])  # s = sigma(-|x|) <= 1/2, accurate
            # sigma(x) is 1 - s for x >= 0 and s below. With the indicator m = [x < 0] and the signed
            # s' = (1 - 2m) s, sigma(x) = (1 - m) - s' and sigma(-x) = m + s', without a branch (masked
            # ufuncs, where=, run ten times slower) and without sigma(x) - 1, which rounds to 0 for a
            # confident positive.
            below = np.less(x, 0, out=buffer[2])
            signed_small = np.multiply(below, -2, out=buffer[3])
            signed_small += 1
            signed_small *= small
            if pw is None:
                # (1 - y) sigma(x) - y sigma(-x) = (1 - m - y) - s'
                np.subtract(1, below, out=g)
                g -= y
                g -= signed_small
            else:
                # (1 - y) sigma(x) - p_w y sigma(-x)
                np.subtract(np.subtract(1, below, out=g), signed_small, out=g)
                g *= np.subtract(1, y, out=buffer[0])
                np.add(below, signed_small, out=signed_small)
                signed_small *= y
                np.multiply(pw, signed_small, out=signed_small)
                g -= signed_small
            if w is not None:
                np.multiply(w, g, out=g)
            if reduction == "mean":
                np.divide(g, x_rows.size, out=g)

    for_each_row_block(block, *x_rows.shape)
    value = None
    if want_value:
        if losses is not None:
            value = check.to_output(losses.reshape(shape), dtype)
        else:
            # Added in row order, whichever thread finished first: the same total on every run.
            total = sum(block_sums[start] for start in sorted(block_sums))
            value = check.to_output(total if reduction == "sum" else total / x_rows.size, dtype)
    return value, (grad.reshape(shape) if want_grad else None)


def binary_cross_entropy_with_logits(logits, target, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy of :math:`\sigma(x)` against targets in [0, 1], computed from logits.

    Parameters
    ----------
    logits : array_like
        Any shape; one logit per yes/no question.
    target : array_like, same shape as `logits`
        Labels 0 or 1, or probabilities in between.
    weight : array_like, optional
        Rescales each element's loss: shape (), (C,) for the last axis, or the shape of `logits`.
    pos_weight : array_like, optional
        Multiplies the positive term, per class (last axis): > 1 raises recall on rare positives.
    reduction : {"mean", "sum", "none"}, default "mean"

    Notes
    -----
    With :math:`\log \sigma(x)` and :math:`\log(1 - \sigma(x)) = \log \sigma(-x)` taken stably,

    .. math:: \ell = -w \left[ p_w\, y \log \sigma(x) + (1 - y) \log \sigma(-x) \right].

    Examples
    --------
    >>> from lossbook import binary_cross_entropy_with_logits
    >>> binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0], reduction="none").round(4)
    array([0.1269, 0.3133])
    >>> binary_cross_entropy_with_logits([-800.0], [1.0])  # log(sigmoid(-800)) would be -inf
    np.float64(800.0)
    """
    value, _ = _bce_with_logits(logits, target, weight, pos_weight, reduction, True, False)
    return value


def binary_cross_entropy_with_logits_grad(logits, target, weight=None, pos_weight=None, reduction="mean"):
    r"""Gradient of :func:`binary_cross_entropy_with_logits` with respect to `logits`.

    Notes
    -----
    .. math:: \frac{\partial \ell}{\partial x} = w \left[ (p_w y + 1 - y)\, \sigma(x) - p_w y \right],

    which is :math:`w\,(\sigma(x) - y)` without `pos_weight`.
    """
    _, grad = _bce_with_logits(logits, target, weight, pos_weight, reduction, False, True)
    return grad


def binary_cross_entropy_with_logits_value_and_grad(logits, target, weight=None, pos_weight=None, reduction="mean"):
    r"""Both :func:`binary_cross_entropy_with_logits` and its gradient, for the cost of one.

    The loss needs :math:`\log(1 + e^{-|x|})` and the gradient needs :math:`\sigma(x)`; both come
    from the same :math:`e^{-|x|}`, computed once here. Same arguments as
    :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    value : numpy scalar or numpy.ndarray
        What :func:`binary_cross_entropy_with_logits` returns.
    grad : numpy.ndarray
        What :func:`binary_cross_entropy_with_logits_grad` returns, shaped like `logits`.

    Examples
    --------
    >>> from lossbook import binary_cross_entropy_with_logits_value_and_grad
    >>> value, grad = binary_cross_entropy_with_logits_value_and_grad([2.0, -1.0], [1.0, 0.0])
    >>> value.round(4), grad.round(4)
    (np.float64(0.2201), array([-0.0596,  0.1345]))
    """
    return _bce_with_logits(logits, target, weight, pos_weight, reduction, True, True)


def _check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating, np.integer)):
        raise TypeError(f"gamma must be a real number; got {type(gamma).__name__}")
    if not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0; got {gamma}")
    return float(gamma)


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise TypeError(f"alpha must be a real number; got {type(alpha).__name__}")
    if not np.isfinite(alpha) or alpha > 1:
        raise ValueError(f"alpha must lie in [0, 1], or be negative to turn the weighting off; got {alpha}")
    return float(alpha)


def _focal_parts(logits, target, alpha, gamma):
    probs, complement = sigmoid(logits), sigmoid(-logits)  # both accurate, even near 0 and 1
    # 1 - p_t, the probability left to the wrong answer, computed without cancellation.
    miss = probs * (1 - target) + complement * target
    ce = -(target * log_sigmoid(logits) + (1 - target) * log_sigmoid(-logits))
    alpha_t = alpha * target + (1 - alpha) * (1 - target) if alpha >= 0 else 1.0
    return probs, complement, miss, ce, alpha_t


def sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Focal loss (Lin et al., 2017): binary cross-entropy scaled down on easy examples.

    Parameters
    ----------
    logits, target : array_like, same shape
        As in :func:`binary_cross_entropy_with_logits`.
    alpha : float, default 0.25
        Weight of the positives, :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`; a negative
        alpha turns the weighting off (as in torchvision).
    gamma : float >= 0, default 2.0
        Focusing strength; 0 gives (alpha-weighted) binary cross-entropy.
    reduction : {"none", "mean", "sum"}, default "none" (torchvision's default)

    Notes
    -----
    With :math:`p_t = p y + (1 - p)(1 - y)`,
    :math:`\ell = \alpha_t\, (1 - p_t)^\gamma\, \operatorname{BCE}(x, y)`.

    Examples
    --------
    >>> from lossbook import sigmoid_focal_loss
    >>> sigmoid_focal_loss([3.0, -3.0], [1.0, 1.0]).round(5)  # an easy and a hard positive
    array([0.00003, 0.69157])
    """
    alpha, gamma = _check_alpha(alpha), _check_gamma(gamma)
    logits, target = _prepare(logits, target, reduction)
    _, _, miss, ce, alpha_t = _focal_parts(logits, target, alpha, gamma)
    return reduce_losses(alpha_t * miss**gamma * ce, reduction, logits.dtype)


def sigmoid_focal_loss_grad(logits, target, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Gradient of :func:`sigmoid_focal_loss` with respect to `logits`, finite everywhere.

    Notes
    -----
    With :math:`q = 1 - p_t` and :math:`\partial q / \partial x = (1 - 2y)\, p (1 - p)`,

    .. math:: \frac{\partial \ell}{\partial x} = \alpha_t \left[ q^\gamma (p - y)
              + \gamma\, q^{\gamma - 1} \frac{\partial q}{\partial x} \operatorname{BCE} \right].

    For :math:`\gamma < 1` the factor :math:`q^{\gamma - 1}` is infinite at a perfect prediction
    (:math:`q = 0`), where automatic differentiation of torchvision's formula gives
    :math:`0 \cdot \infty = \text{nan}`; the product tends to 0 there, which is what this returns.
    """
    alpha, gamma = _check_alpha(alpha), _check_gamma(gamma)
    logits, target = _prepare(logits, target, reduction)
    probs, complement, miss, ce, alpha_t = _focal_parts(logits, target, alpha, gamma)
    dmiss = (1 - 2 * target) * probs * complement
    # q^(gamma - 1) * dq/dx * BCE -> 0 as q -> 0; evaluate it only where q > 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        focusing = np.where(miss > 0, gamma * miss ** (gamma - 1) * dmiss * ce, 0.0)
    # p - y written as p (1 - y) - (1 - p) y: both terms accurate even where p rounds to 1.
    grad = alpha_t * (miss**gamma * (probs * (1 - target) - complement * target) + focusing)
    return reduce_grad(np.broadcast_to(grad, logits.shape), reduction, logits.dtype)
