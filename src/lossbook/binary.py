"""Losses for yes/no outputs such as the objectness score: binary cross-entropy with logits and focal loss.

``binary_cross_entropy_with_logits`` follows ``torch.nn.functional``; ``sigmoid_focal_loss`` follows
``torchvision.ops.sigmoid_focal_loss``. Both take logits and work through
:func:`~lossbook.stable.log_sigmoid` and :func:`~lossbook.stable.sigmoid`, never ``log(sigmoid(x))``,
so they stay finite at any logit. These are the readable reference versions;
:func:`~lossbook.fused.binary_cross_entropy_with_logits_value_and_grad` computes the loss and its
gradient at once, faster.

Both losses and their twins accept float16 and bfloat16 logits (and targets and weights) and return
the dtype of the logits: they compute in float32 and round once at the end, as :mod:`lossbook.stable`
does.
"""

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses
from lossbook.stable import log_sigmoid, sigmoid


def _check_pair(logits, target, reduction):
    """Logits and target to compute with, and the dtype to return."""
    logits, dtype = check.upcast(check.as_float_array(logits, "logits", half=True))
    target = check.check_shaped_like(target, "target", logits, "logits", half=True)
    check.check_reduction(reduction)
    return logits, target, dtype


def _check_bce(logits, target, weight, pos_weight, reduction):
    logits, target, dtype = _check_pair(logits, target, reduction)
    weight = check.check_broadcast_factor(weight, "weight", logits.shape, logits.dtype)
    pos_weight = check.check_broadcast_factor(pos_weight, "pos_weight", logits.shape, logits.dtype)
    return logits, target, weight, pos_weight, dtype


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy of :math:`\sigma(x)` against targets in [0, 1], computed from logits.

    Parameters
    ----------
    logits : array_like
        Any shape; one logit per yes/no question.
    target : array_like, same shape as `logits`
        Labels 0 or 1, or probabilities in between.
    weight : array_like, optional, keyword-only
        Rescales each element's loss; broadcasts to the shape of `logits` as in PyTorch: shape
        (), (1,), (C,) or (1, C) for the last axis, or the shape of `logits`.
    pos_weight : array_like, optional, keyword-only
        Multiplies the positive term, per class (last axis), with the same broadcasting: > 1
        raises recall on rare positives, and shifts the predicted probabilities upward, away from
        calibrated ones.
    reduction : {"mean", "sum", "none"}, default "mean", keyword-only

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
    x, y, w, pw, dtype = _check_bce(logits, target, weight, pos_weight, reduction)
    # log(1 - sigma(x)) = log sigma(-x): both logarithms from the stable log_sigmoid.
    losses = -w * (pw * y * log_sigmoid(x) + (1 - y) * log_sigmoid(-x))
    return reduce_losses(losses, reduction, dtype)


def binary_cross_entropy_with_logits_grad(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Gradient of :func:`binary_cross_entropy_with_logits` with respect to `logits`.

    Notes
    -----
    With :math:`\sigma'(x) = \sigma(x)\,\sigma(-x)`, :math:`\frac{d}{dx}\log\sigma(x) = \sigma(-x)`
    and :math:`\frac{d}{dx}\log\sigma(-x) = -\sigma(x)`, so

    .. math:: \frac{\partial \ell}{\partial x} = w \left[ (1 - y)\, \sigma(x) - p_w\, y\, \sigma(-x) \right],

    which is :math:`w\,(\sigma(x) - y)` without `pos_weight`. Written with both :math:`\sigma(x)` and
    :math:`\sigma(-x)`, neither term suffers the cancellation of :math:`\sigma(x) - 1` at a confident
    positive.
    """
    x, y, w, pw, dtype = _check_bce(logits, target, weight, pos_weight, reduction)
    grad = w * ((1 - y) * sigmoid(x) - pw * y * sigmoid(-x))
    return reduce_grad(grad, reduction, dtype)


def _check_focal(logits, target, alpha, gamma, reduction):
    logits, target, dtype = _check_pair(logits, target, reduction)
    alpha = check.check_real_number(alpha, "alpha", at_most=1)  # negative turns the weighting off
    gamma = check.check_real_number(gamma, "gamma", at_least=0)
    return logits, target, alpha, gamma, dtype


def _focal_parts(logits, target, alpha):
    """p, 1 - p, the miss probability 1 - p_t, the binary cross-entropy, and alpha_t."""
    probs, complement = sigmoid(logits), sigmoid(-logits)  # p and 1 - p, both accurate even near 0 and 1
    # 1 - p_t, the probability left to the wrong answer, computed without cancellation.
    miss = probs * (1 - target) + complement * target
    ce = -(target * log_sigmoid(logits) + (1 - target) * log_sigmoid(-logits))
    alpha_t = alpha * target + (1 - alpha) * (1 - target) if alpha >= 0 else 1.0
    return probs, complement, miss, ce, alpha_t


def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Focal loss (Lin et al., 2017): binary cross-entropy scaled down on easy examples.

    Parameters
    ----------
    logits, target : array_like, same shape
        As in :func:`binary_cross_entropy_with_logits`.
    alpha : float <= 1, default 0.25, keyword-only
        Weight of the positives, :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`; a negative
        alpha turns the weighting off (as in torchvision).
    gamma : float >= 0, default 2.0, keyword-only
        Focusing strength; 0 gives (alpha-weighted) binary cross-entropy.
    reduction : {"none", "mean", "sum"}, default "none" (torchvision's default), keyword-only

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
    logits, target, alpha, gamma, dtype = _check_focal(logits, target, alpha, gamma, reduction)
    _, _, miss, ce, alpha_t = _focal_parts(logits, target, alpha)
    return reduce_losses(alpha_t * miss**gamma * ce, reduction, dtype)


def sigmoid_focal_loss_grad(logits, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Gradient of :func:`sigmoid_focal_loss` with respect to `logits`, finite everywhere.

    Notes
    -----
    With the miss probability :math:`1 - p_t`, whose derivative is
    :math:`\partial (1 - p_t) / \partial x = (1 - 2y)\, p (1 - p)`,

    .. math:: \frac{\partial \ell}{\partial x} = \alpha_t \left[ (1 - p_t)^\gamma (p - y)
              + \gamma\, (1 - p_t)^{\gamma - 1} \frac{\partial (1 - p_t)}{\partial x} \operatorname{BCE} \right].

    For :math:`\gamma < 1` the factor :math:`(1 - p_t)^{\gamma - 1}` is infinite at a perfect prediction
    (:math:`p_t = 1`), where automatic differentiation of torchvision's formula gives
    :math:`0 \cdot \infty = \text{nan}`; the product tends to 0 there, which is what this returns.
    """
    logits, target, alpha, gamma, dtype = _check_focal(logits, target, alpha, gamma, reduction)
    probs, complement, miss, ce, alpha_t = _focal_parts(logits, target, alpha)
    dmiss = (1 - 2 * target) * probs * complement
    # (1 - p_t)^(gamma - 1) * d(1 - p_t)/dx * BCE -> 0 as p_t -> 1; evaluate it only where the miss is > 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        focusing = np.where(miss > 0, gamma * miss ** (gamma - 1) * dmiss * ce, 0.0)
    # p - y written as p (1 - y) - (1 - p) y: both terms accurate even where p rounds to 1.
    grad = alpha_t * (miss**gamma * (probs * (1 - target) - complement * target) + focusing)
    return reduce_grad(np.broadcast_to(grad, logits.shape), reduction, dtype)
