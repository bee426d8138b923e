"""Regression losses for the box coordinates: MSE, L1, smooth L1 and Huber, each with its gradient.

Semantics follow ``torch.nn.functional``: `input` and `target` must have exactly the same shape
(PyTorch broadcasts with a warning; here a (3,) input against a (3, 1) target, which would broadcast
to a (3, 3) matrix of nonsense, is a ValueError), ``reduction="mean"`` averages over every element.
At a kink the gradient twin returns the subgradient PyTorch returns: 0 for :func:`l1_loss` at
zero error.
"""

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses


def _prepare(input, target, reduction):
    input = check.as_float_array(input, "input")
    target = check.as_float_array(target, "target")
    if input.shape != target.shape:
        raise ValueError(
            f"input and target must have the same shape (no broadcasting); got {input.shape} and {target.shape}"
        )
    if input.size == 0:
        raise ValueError(f"input is empty (shape {input.shape}); the loss of nothing is undefined")
    check.check_reduction(reduction)
    return input, (input - target.astype(input.dtype, copy=False))


def mse_loss(input, target, reduction="mean"):
    r"""Mean squared error, :math:`(x - y)^2` per element.

    Examples
    --------
    >>> from lossbook import mse_loss
    >>> mse_loss([1.0, 2.0, 4.0], [1.0, 0.0, 1.0])  # (0 + 4 + 9) / 3
    np.float64(4.333333333333333)
    """
    input, error = _prepare(input, target, reduction)
    return reduce_losses(error * error, reduction, input.dtype)


def mse_loss_grad(input, target, reduction="mean"):
    r"""Gradient of :func:`mse_loss` with respect to `input`: :math:`2 (x - y)` per element."""
    input, error = _prepare(input, target, reduction)
    return reduce_grad(2 * error, reduction, input.dtype)


def l1_loss(input, target, reduction="mean"):
    r"""Mean absolute error, :math:`|x - y|` per element.

    Examples
    --------
    >>> from lossbook import l1_loss
    >>> l1_loss([1.0, 2.0, 4.0], [1.0, 0.0, 1.0])  # (0 + 2 + 3) / 3
    np.float64(1.6666666666666667)
    """
    input, error = _prepare(input, target, reduction)
    return reduce_losses(np.abs(error), reduction, input.dtype)


def l1_loss_grad(input, target, reduction="mean"):
    r"""Gradient of :func:`l1_loss`: :math:`\operatorname{sign}(x - y)`, and 0 at zero error (PyTorch's subgradient)."""
    input, error = _prepare(input, target, reduction)
    return reduce_grad(np.sign(error), reduction, input.dtype)


def _check_beta(beta):
    return check.check_nonnegative_number(beta, "beta")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    r"""Smooth L1 loss (Fast R-CNN): quadratic below `beta`, linear above.

    .. math:: \ell = \begin{cases} \tfrac{1}{2} e^2 / \beta & |e| < \beta \\ |e| - \tfrac{1}{2}\beta & \text{otherwise} \end{cases}

    with :math:`e = x - y`; ``beta=0`` is exactly :func:`l1_loss`. It equals
    :func:`huber_loss` with ``delta=beta`` divided by `beta`.

    Examples
    --------
    >>> from lossbook import smooth_l1_loss
    >>> smooth_l1_loss([0.5, 3.0], [0.0, 0.0], reduction="none")
    array([0.125, 2.5  ])
    """
    beta = _check_beta(beta)
    input, error = _prepare(input, target, reduction)
    magnitude = np.abs(error)
    if beta == 0:
        return reduce_losses(magnitude, reduction, input.dtype)
    # Branch-free: the quadratic part is capped at beta, the rest of |e| is linear.
    quadratic = np.minimum(magnitude, beta)
    losses = 0.5 * quadratic * quadratic / beta + (magnitude - quadratic)
    return reduce_losses(losses, reduction, input.dtype)


def smooth_l1_loss_grad(input, target, reduction="mean", beta=1.0):
    r"""Gradient of :func:`smooth_l1_loss`: :math:`e / \beta` inside, :math:`\operatorname{sign}(e)` outside."""
    beta = _check_beta(beta)
    input, error = _prepare(input, target, reduction)
    if beta == 0:
        return reduce_grad(np.sign(error), reduction, input.dtype)
    return reduce_grad(np.clip(error / beta, -1, 1), reduction, input.dtype)


def _check_delta(delta):
    delta = check.check_nonnegative_number(delta, "delta")
    if delta == 0:
        raise ValueError("delta must be > 0 (the width of the quadratic zone); got 0")
    return delta


def huber_loss(input, target, reduction="mean", delta=1.0):
    r"""Huber loss (Huber, 1964): quadratic below `delta`, linear with slope `delta` above.

    .. math:: \ell = \begin{cases} \tfrac{1}{2} e^2 & |e| \le \delta \\ \delta\,(|e| - \tfrac{1}{2}\delta) & \text{otherwise} \end{cases}

    Examples
    --------
    >>> from lossbook import huber_loss
    >>> huber_loss([0.5, 3.0], [0.0, 0.0], reduction="none", delta=2.0)
    array([0.125, 4.   ])
    """
    delta = _check_delta(delta)
    input, error = _prepare(input, target, reduction)
    magnitude = np.abs(error)
    quadratic = np.minimum(magnitude, delta)
    losses = 0.5 * quadratic * quadratic + delta * (magnitude - quadratic)
    return reduce_losses(losses, reduction, input.dtype)


def huber_loss_grad(input, target, reduction="mean", delta=1.0):
    r"""Gradient of :func:`huber_loss`: :math:`e` inside, :math:`\delta \operatorname{sign}(e)` outside."""
    delta = _check_delta(delta)
    input, error = _prepare(input, target, reduction)
    return reduce_grad(np.clip(error, -delta, delta), reduction, input.dtype)
