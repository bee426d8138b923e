"""Input checks shared by every public function: reject bad input at the door, with the argument's name.

Each check returns a clean NumPy array (or value) so that the numerical code after it can assume
well-formed input. Checks are cheap (a dtype look-up, a shape comparison, one pass for label ranges)
so that small batches stay fast.

Half precision. float16 and bfloat16 (NumPy has no bfloat16; ``ml_dtypes.bfloat16`` provides it) are
accepted only by the functions listed in :data:`HALF_PRECISION_FUNCTIONS`, which pass ``half=True``.
They compute as PyTorch's CPU kernels do, in float32 (PyTorch's "opmath" type for both formats):
:func:`upcast` gives the array to compute with and the dtype to return, and :func:`to_output` rounds
the result back once at the end. Every other function refuses them with a TypeError, rather than
computing in a format whose 11 (float16) or 8 (bfloat16) significant bits it was never checked against.
"""

import math
import numbers

import numpy as np

REDUCTIONS = ("mean", "sum", "none")

HALF_PRECISION = ("float16", "bfloat16")
HALF_PRECISION_FUNCTIONS = (
    "logsumexp, softmax, log_softmax, sigmoid, log_sigmoid, softplus, cross_entropy, nll_loss, kl_div, "
    "binary_cross_entropy_with_logits, sigmoid_focal_loss, their _grad twins and the fused *_value_and_grad"
)


def is_half_precision(dtype):
    """True for float16 and bfloat16 (the size test first: building a dtype's name costs microseconds)."""
    return dtype.itemsize == 2 and dtype.name in HALF_PRECISION


def as_float_array(x, name, *, half=False):
    """Return `x` as a float32 or float64 array; integers and bools become float64.

    float32 stays float32 (the library keeps the caller's precision). float16 and bfloat16 stay as
    they are when ``half=True`` (the caller computes through :func:`upcast`) and are a TypeError
    otherwise.
    """
    try:
        array = np.asarray(x)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers; {error}") from None
    kind = array.dtype.kind
    if is_half_precision(array.dtype):  # bfloat16 (from ml_dtypes) has kind "V", so test the name
        if not half:
            raise TypeError(
                f"{name} has dtype {array.dtype}, which this function does not accept; half precision "
                f"(float16, bfloat16) is accepted by {HALF_PRECISION_FUNCTIONS} only: cast to float32 first"
            )
        return array
    if kind == "f":
        if array.dtype not in (np.float32, np.float64):
            return array.astype(np.float64)
        return array
    if kind in "iu":
        return array.astype(np.float64)
    raise TypeError(
        f"{name} must hold real numbers (float32, float64 or integers); got dtype {array.dtype}"
    )


def upcast(array):
    """`array` in the dtype to compute in, and the dtype to return the result in.

    float16 and bfloat16 are computed in float32, as PyTorch's CPU kernels do, and :func:`to_output`
    rounds the result back once; float32 and float64 are computed as they are.
    """
    if is_half_precision(array.dtype):
        return array.astype(np.float32), array.dtype
    return array, array.dtype


def check_shaped_like(value, name, reference, reference_name, *, half=False):
    """`value` as a float array with exactly the shape and the dtype of the array `reference`.

    NumPy would broadcast (3,) against (3, 1) into a (3, 3) result; a loss must refuse instead.
    ``half=True`` accepts float16 and bfloat16 (see :func:`as_float_array`).
    """
    array = as_float_array(value, name, half=half)
    if array.shape != reference.shape:
        raise ValueError(
            f"{name} must have the shape of {reference_name} {reference.shape} (no broadcasting); got {array.shape}"
        )
    return array.astype(reference.dtype, copy=False)


def check_broadcast_factor(value, name, shape, dtype):
    """A weight that broadcasts to `shape` without changing it (PyTorch's rule), or 1.0 when None.

    (C,) or (1, C) weighs each class of the last axis; a scalar, (1,) or a full array also work.
    A factor that would make the result larger than the logits, such as (N,) against (N, C)
    when N != C, is refused: that is the silent broadcast this library never does.
    """
    if value is None:
        return 1.0
    value = as_float_array(value, name, half=True)  # only the binary losses, which accept half precision, call it
    try:
        result_shape = np.broadcast_shapes(value.shape, shape)
    except ValueError:
        result_shape = None
    if result_shape != shape:
        raise ValueError(f"{name} of shape {value.shape} must broadcast to the shape of logits {shape}")
    return value.astype(dtype, copy=False)


def check_reduction(reduction):
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, one of {REDUCTIONS}; got {type(reduction).__name__}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    return reduction


def check_real_number(value, name, *, at_least=None, at_most=None):
    """`value` as a finite float, within [at_least, at_most] where those are given.

    The one check behind every scalar option of the library (eps, beta, delta, gamma, alpha, margin,
    label_smoothing, lr, ...): bools and non-numbers are a TypeError, nan, infinity or a value out of
    range a ValueError whose message names the argument.
    """
    if type(value) is not float:  # the usual case skips the generic checks (small batches are timed)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
        value = float(value)
    low = -math.inf if at_least is None else at_least
    high = math.inf if at_most is None else at_most
    if not (math.isfinite(value) and low <= value <= high):
        if at_least is not None and at_most is not None:
            raise ValueError(f"{name} must lie in [{at_least}, {at_most}]; got {value}")
        wanted = f" >= {at_least}" if at_least is not None else f" <= {at_most}" if at_most is not None else ""
        raise ValueError(f"{name} must be a finite number{wanted}; got {value}")
    return value


def check_nonnegative_number(value, name):
    """`value` as a finite float >= 0 (see :func:`check_real_number`)."""
    return check_real_number(value, name, at_least=0)


def check_label_smoothing(label_smoothing):
    return check_real_number(label_smoothing, "label_smoothing", at_least=0, at_most=1)


def check_integer(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__}")
    return int(value)


def check_class_input(x, name, *, half=False):
    """Scores or log-probabilities: (C,) unbatched, (N, C), or (N, C, d1, ...) with classes on axis 1."""
    x = as_float_array(x, name, half=half)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a class axis: shape (C,), (N, C) or (N, C, d1, ...); got a scalar")
    if x.shape[min(1, x.ndim - 1)] == 0:
        raise ValueError(f"{name} must have at least one class; got shape {x.shape}")
    return x


def check_class_indices(target, input_shape, input_name, ignore_index):
    """Integer class labels shaped like the input without its class axis, each in [0, C) or ignore_index.

    ``ignore_index=None`` for losses that have no ignored label.

    Floating-point labels are accepted only when they are whole numbers (a list of floats such as
    [0.0, 2.0] is a common way to write labels); 1.5 is never a class.
    """
    target = np.asarray(target)
    num_classes = input_shape[min(1, len(input_shape) - 1)]
    expected = input_shape[:1] + input_shape[2:] if len(input_shape) >= 2 else ()
    if target.shape != expected:
        raise ValueError(
            f"target must have shape {expected} (class indices for {input_name} of shape {input_shape}) "
            f"or {input_shape} (class probabilities); got {target.shape}"
        )
    kind = target.dtype.kind
    if kind == "f":
        whole = np.isfinite(target) & (target == np.round(target))
        if not np.all(whole):
            bad = target.flat[np.flatnonzero(~whole.ravel())[0]]
            raise ValueError(f"target holds class indices, which must be whole numbers; got {bad}")
        target = target.astype(np.int64)
    elif kind not in "iu":
        raise TypeError(f"target must hold integer class indices; got dtype {target.dtype}")
    target = target.astype(np.int64, copy=False)
    # Two reductions settle the usual case; the masks below are built only to find and name a bad label.
    if target.size and 0 <= target.min() and target.max() < num_classes:
        return target
    out_of_range = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        out_of_range &= target != ignore_index
    if np.any(out_of_range):
        bad = target.flat[np.flatnonzero(out_of_range.ravel())[0]]
        allowed = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"target holds class indices in [0, {num_classes}){allowed}; got {bad}")
    return target


def check_class_weight(weight, num_classes, dtype):
    if weight is None:
        return None
    weight = as_float_array(weight, "weight", half=True)  # cast to `dtype` below, which is never half precision
    if weight.shape != (num_classes,):
        raise ValueError(f"weight must have shape ({num_classes},), one entry per class; got {weight.shape}")
    return weight.astype(dtype, copy=False)


def to_output(value, dtype):
    """Scalars come back as NumPy scalars of the input's dtype (float32 in, float32 out).

    For half-precision input, `value` was computed in float32 (:func:`upcast`) and is rounded to the
    nearest float16 or bfloat16 here, once.
    """
    with np.errstate(over="ignore"):  # beyond float16's 65504 the nearest value is inf, as in PyTorch
        if np.ndim(value) == 0:
            return dtype.type(value)
        return value.astype(dtype, copy=False)
