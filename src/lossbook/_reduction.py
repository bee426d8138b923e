"""How elementwise losses become what a caller asked for, and how their gradient scales with it.

``reduction="none"`` returns the losses, ``"sum"`` their sum and ``"mean"`` their mean over every
element (PyTorch's convention for elementwise losses); the gradient of the mean is the elementwise
gradient divided by the number of elements. Shared by the binary and the regression losses.
"""

from lossbook._validation import to_output


def reduce_losses(losses, reduction, dtype):
    """The losses themselves, their sum or their mean, in `dtype` (scalars as NumPy scalars)."""
    if reduction == "none":
        return to_output(losses, dtype)
    return to_output(losses.sum() if reduction == "sum" else losses.mean(), dtype)


def reduce_grad(grad, reduction, dtype):
    """The elementwise gradient scaled for `reduction` (divided by the element count for the mean)."""
    if reduction == "mean":
        grad = grad / grad.size
    return grad.astype(dtype, copy=False)
