"""The fused entry points: a loss or primitive and its gradient in one call, through the tuned kernels.

A training step needs the value and the gradient at the same inputs. Calling the reference function
and its ``_grad`` twin checks the input twice and computes the softmax (or the sigmoid) twice; the
functions here check once and run ``lossbook._kernels``, which computes the exponentials once, in
cache-sized row blocks, on two threads for large batches. They return exactly what the reference
pair returns, to rounding (tests/test_fused.py holds them to it on every registered example). Cases
the kernels do not cover (class weights, label smoothing, ignored samples, other axes or layouts)
go to the reference functions themselves.

This is the only module, with the training code that calls it, that uses the tuned kernels.

Half precision: float16 and bfloat16 input is upcast to float32 once at the door
(``_validation.upcast``), runs through the same float32 kernels, and the value and the gradient are
rounded back to the input's dtype once at the end, as the reference functions do. The kernels
themselves only ever see float32 or float64.
"""

import numpy as np

from lossbook import _kernels
from lossbook import _validation as check
from lossbook._reduction import reduce_losses
from lossbook.binary import _check_bce, binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad
from lossbook.classification import cross_entropy, cross_entropy_grad
from lossbook.stable import _check_vjp_arguments, log_softmax, log_softmax_grad, softmax, softmax_grad


def _vector_and_grad(x, grad_output, axis, row_kernel, reference, reference_grad):
    x, g, axis, dtype = _check_vjp_arguments(x, grad_output, axis)
    rows = _kernels.rows_along(x, axis) if x.ndim and x.size else None
    if rows is None:  # a scalar, an empty array, or another axis or memory layout: the reference
        value, grad = reference(x, axis), reference_grad(x, g, axis)
    else:
        value, grad = row_kernel(rows, np.ascontiguousarray(g).reshape(rows.shape))
        value, grad = value.reshape(x.shape), grad.reshape(x.shape)
    return check.to_output(value, dtype), check.to_output(grad, dtype)


def softmax_value_and_grad(x, grad_output, axis=-1):
    r""":func:`~lossbook.stable.softmax` and :func:`~lossbook.stable.softmax_grad` in one call.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The probabilities :math:`\mathbf{p}` and the gradient
        :math:`\mathbf{p} \odot (\mathbf{g} - \langle \mathbf{g}, \mathbf{p}\rangle)` for
        :math:`\mathbf{g}` = `grad_output`, both shaped like `x`, in the dtype of `x`.

    Examples
    --------
    >>> from lossbook import softmax_value_and_grad
    >>> p, grad = softmax_value_and_grad([5.0, 4.0, 2.0], [1.0, 0.0, 0.0])  # d p_0 / d x
    >>> grad.round(4)
    array([ 0.2078, -0.183 , -0.0248])
    """
    return _vector_and_grad(x, grad_output, axis, _kernels.softmax_value_and_grad_rows, softmax, softmax_grad)


def log_softmax_value_and_grad(x, grad_output, axis=-1):
    r""":func:`~lossbook.stable.log_softmax` and :func:`~lossbook.stable.log_softmax_grad` in one call.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The log-probabilities and the gradient :math:`g - p \sum_j g_j`, both shaped like `x`.

    Examples
    --------
    >>> from lossbook import log_softmax_value_and_grad
    >>> logp, grad = log_softmax_value_and_grad([5.0, 4.0, 2.0], [-1.0, 0.0, 0.0])
    >>> grad.round(4)  # p - y for the target class 0
    array([-0.2946,  0.2595,  0.0351])
    """
    return _vector_and_grad(
        x, grad_output, axis, _kernels.log_softmax_value_and_grad_rows, log_softmax, log_softmax_grad
    )


def _plain_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing):
    """(scores, labels, dtype) when the kernel applies: (N, C) rows in memory order, index targets, no
    weight, no smoothing, nothing ignored. None otherwise. Checks every argument either way."""
    logits, dtype = check.upcast(check.check_class_input(logits, "logits", half=True))
    check.check_reduction(reduction)
    ignore_index = check.check_integer(ignore_index, "ignore_index")
    smoothing = check.check_label_smoothing(label_smoothing)
    target = np.asarray(target)
    if weight is not None or smoothing or logits.ndim != 2 or not logits.flags.c_contiguous or len(logits) == 0:
        return None
    if target.shape == logits.shape:  # class probabilities
        return None
    labels = check.check_class_indices(target, logits.shape, "logits", ignore_index)
    if (labels == ignore_index).any():
        return None
    return logits, labels, dtype


def cross_entropy_value_and_grad(
    logits, target, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    r"""Both :func:`~lossbook.classification.cross_entropy` and its gradient, for the cost of one.

    Same arguments as :func:`~lossbook.classification.cross_entropy`. For plain index targets
    (no weight, no smoothing, nothing ignored) a row kernel computes the exponentials once and turns
    them into both the losses and the gradient; every other case returns what the reference pair
    returns.

    Returns
    -------
    value : numpy scalar or numpy.ndarray
        What :func:`~lossbook.classification.cross_entropy` returns.
    grad : numpy.ndarray
        What :func:`~lossbook.classification.cross_entropy_grad` returns, shaped like `logits`.

    Examples
    --------
    >>> from lossbook import cross_entropy_value_and_grad
    >>> value, grad = cross_entropy_value_and_grad([[5, 4, 2]], [0])
    >>> value.round(4), grad.round(4)
    (np.float64(0.349), array([[-0.2946,  0.2595,  0.0351]]))
    """
    options = dict(weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    plain = _plain_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing)
    if plain is None:
        return cross_entropy(logits, target, **options), cross_entropy_grad(logits, target, **options)
    scores, labels, dtype = plain
    losses, grad = _kernels.plain_cross_entropy_rows(scores, labels, len(labels) if reduction == "mean" else 1)
    return reduce_losses(losses, reduction, dtype), check.to_output(grad, dtype)


def binary_cross_entropy_with_logits_value_and_grad(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Both :func:`~lossbook.binary.binary_cross_entropy_with_logits` and its gradient, for the cost of one.

    The loss needs :math:`\log(1 + e^{-|x|})` and the gradient needs :math:`\sigma(x)`; both come
    from the same :math:`e^{-|x|}`, computed once here. Same arguments as
    :func:`~lossbook.binary.binary_cross_entropy_with_logits`.

    Returns
    -------
    value : numpy scalar or numpy.ndarray
        What :func:`~lossbook.binary.binary_cross_entropy_with_logits` returns.
    grad : numpy.ndarray
        What :func:`~lossbook.binary.binary_cross_entropy_with_logits_grad` returns, shaped like `logits`.

    Examples
    --------
    >>> from lossbook import binary_cross_entropy_with_logits_value_and_grad
    >>> value, grad = binary_cross_entropy_with_logits_value_and_grad([2.0, -1.0], [1.0, 0.0])
    >>> value.round(4), grad.round(4)
    (np.float64(0.2201), array([-0.0596,  0.1345]))
    """
    x, y, w, pw, dtype = _check_bce(logits, target, weight, pos_weight, reduction)
    if x.ndim == 0 or x.size == 0:
        options = {"weight": weight, "pos_weight": pos_weight, "reduction": reduction}
        return (
            binary_cross_entropy_with_logits(logits, target, **options),
            binary_cross_entropy_with_logits_grad(logits, target, **options),
        )
    factors = [_kernel_factor(f, x.shape) for f in (w, pw)]
    value, grad = _kernels.bce_with_logits(x, y, *factors, reduction)
    return check.to_output(value, dtype), check.to_output(grad, dtype)


def _kernel_factor(factor, shape):
    """A checked weight in a form the BCE kernel takes: None, a scalar, one entry per class, or full shape."""
    if not isinstance(factor, np.ndarray):  # 1.0: no weight
        return None
    if factor.shape == shape:
        return factor
    if factor.size == 1:
        return factor.reshape(())
    if factor.size == shape[-1] and factor.shape[-1] == shape[-1]:  # (C,) or (1, ..., 1, C)
        return factor.reshape(-1)
    return np.broadcast_to(factor, shape).copy()
