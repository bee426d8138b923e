"""How per-element (or per-sample) losses become what the caller asked for, and how their gradient follows.

Every loss of the library ends with :func:`reduce_losses` and every gradient twin with
:func:`reduce_grad`. ``reduction="none"`` returns the losses, ``"sum"`` their sum and ``"mean"`` their
sum divided by a denominator: the number of losses for elementwise losses (PyTorch's convention),
the total weight of the counted samples for :func:`~lossbook.classification.cross_entropy` and
:func:`~lossbook.classification.nll_loss`, the batch size for ``kl_div(..., reduction="batchmean")``.

A mean over nothing (an empty batch, or every sample ignored) is 0 / 0 = nan, as in PyTorch; its
gradient is zero, as in PyTorch, so a training step on such a batch leaves the parameters alone.
"""

import numpy as np

from lossbook._validation import to_output


def reduce_losses(losses, reduction, dtype, denominator=None):
    """The losses themselves, their sum, or their sum / `denominator` (default: their number), in `dtype`."""
    if reduction == "none":
        return to_output(losses, dtype)
    total = np.sum(losses)
    if reduction == "sum":
        return to_output(total, dtype)
    count = losses.size if denominator is None else denominator
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 = nan: the mean of nothing
        return to_output(total / count, dtype)


def reduce_grad(grad, reduction, dtype, denominator=None):
    """The gradient of the losses scaled as :func:`reduce_losses` scales them, in `dtype`."""
    if reduction == "mean":
        count = grad.size if denominator is None else denominator
        # The mean over nothing (count 0) has a zero gradient, as in PyTorch.
        grad = grad / count if count != 0 else np.zeros_like(grad)
    return np.asarray(grad).astype(dtype, copy=False)
