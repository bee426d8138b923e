"""The tuned kernels: what makes the fused ``*_value_and_grad`` entry points fast, kept apart from the formulas.

The public losses and primitives of lossbook are the readable reference: whole arrays, one line per
step of the derivation. This module holds their fast twins, which only :mod:`lossbook.fused` (and,
through it, the training code) calls. They compute the same formulas, and the tests hold them to
the reference (tests/test_fused.py) on every registered example, in float32 and float64, at extreme
logits and with every option. What they add is speed, by four means:

* **Row blocks.** A loss makes five or more passes over its scores (max, subtract, exp, sum, scale),
  and a pass over data the CPU has just touched, still in its cache, is cheaper than a pass that
  streams from main memory. So a large batch is worked through one block of rows at a time, each
  block going through every pass before the next block starts.
* **Threads.** NumPy releases the GIL inside its loops, so on a machine with two or more cores a
  second thread works through half of the blocks. Each block writes only its own rows of the
  results, so no number depends on which thread computed it; row results do not depend on the block
  size either (a total summed block by block does, at the level of rounding).
* **Scratch buffers and ``out=``.** Intermediates go into buffers allocated once per thread, not
  into fresh temporaries (a malloc and, for large ones, page faults on first touch).
* **Cheaper row reductions and skipped work.** einsum adds short rows about twice as fast as
  ``sum(axis=1)``; a transposed copy turns many tiny row maxima into a few long vector maxima; and
  softmax skips the max shift when it provably changes nothing (:func:`exp_without_shift_is_safe`).

The appendix "How fast is it?" explains each trick and ``make bench`` measures them.
"""

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# 256 Ki elements (1 MB of float32): a block stays in cache from one pass to the next, and is large
# enough that NumPy's overhead per call (about a microsecond) stays under one percent of the work.
BLOCK_ELEMENTS = 1 << 18
# Below about half a million elements, starting work on a second thread costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 19


def _workers_from_environment():
    """Threads for the kernels: LOSSBOOK_NUM_THREADS, else OMP_NUM_THREADS, else two (or one on one core).

    OMP_NUM_THREADS is how a process is usually told how many threads it may use (NumPy's BLAS and
    PyTorch read it too). On a busy machine extra threads wait for a free core and make things
    slower, which is why the course's Makefile sets it to 1 wherever two notebooks run at once.
    """
    for name in ("LOSSBOOK_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return min(2, os.cpu_count() or 1)


WORKERS = _workers_from_environment()

_executor = None
_executor_lock = threading.Lock()
_scratch = threading.local()


def row_spans(n_rows, n_cols):
    """(start, stop) of consecutive row blocks of about BLOCK_ELEMENTS elements each."""
    rows = max(1, BLOCK_ELEMENTS // max(n_cols, 1))
    return [(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def _pool():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lossbook")
        return _executor


def for_each_row_block(work, n_rows, n_cols):
    """Call ``work(start, stop)`` for every row block; on several threads when the array is large.

    ``work`` must write only to rows ``start:stop`` of its outputs.
    """
    spans = row_spans(n_rows, n_cols)
    if WORKERS < 2 or len(spans) < 2 or n_rows * n_cols < PARALLEL_MIN_ELEMENTS:
        for start, stop in spans:
            work(start, stop)
        return
    # One task per thread, each a run of consecutive blocks (handing a thread a task costs tens of
    # microseconds, a block's work a few hundred); the calling thread takes the first run itself.
    workers = min(WORKERS, len(spans))
    runs = [spans[i * len(spans) // workers : (i + 1) * len(spans) // workers] for i in range(workers)]

    def run_blocks(run):
        for start, stop in run:
            work(start, stop)

    # Each task runs in a copy of the caller's context, so np.errstate set by the caller holds there too.
    tasks = [_pool().submit(contextvars.copy_context().run, run_blocks, run) for run in runs[1:]]
    try:
        run_blocks(runs[0])
    finally:
        for task in tasks:
            task.result()  # re-raises a block's exception (or a warning turned into one) in the caller


def scratch(shape, dtype, slot=0):
    """A reusable buffer of this thread, for intermediates that never leave a kernel.

    Allocating a fresh block-sized temporary for every pass costs a malloc and, for large ones, page
    faults on first touch; one buffer per thread, slot and dtype is allocated once and reused.
    """
    size = int(np.prod(shape))
    key = (slot, np.dtype(dtype).str)
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(max(size, BLOCK_ELEMENTS), dtype)
    return buffer[:size].reshape(shape)


# ----------------------------------------------------------------------------------------------
# Softmax, log_softmax and logsumexp over the rows of an (M, C) array


def row_max(rows):
    """The largest entry of each row of a 2-D array, as an (M, 1) column."""
    n_rows, n_cols = rows.shape
    if not rows.flags.c_contiguous or n_rows == 0:
        return rows.max(axis=1, keepdims=True)
    # NumPy's max along each short row pays about 40 ns of loop set-up per row, more than the
    # comparisons themselves below C = 100. For a few columns a transposed copy turns the work into
    # vectorized maximums down long columns; otherwise reduceat over the flat array halves the
    # set-up. The maximum is exact, so every route gives the same numbers.
    if n_cols <= 16:
        return np.ascontiguousarray(rows.T).max(axis=0)[:, None]
    return np.maximum.reduceat(rows.reshape(-1), np.arange(0, rows.size, n_cols))[:, None]


# Up to this many columns the row sums go through einsum (see row_sum).
EINSUM_SUM_MAX_COLUMNS = 2048


def row_sum(rows, keepdims=False):
    """The sum of each row of a 2-D array, as an (M,) array, or (M, 1) with `keepdims`."""
    n_cols = rows.shape[1]
    if n_cols < 8 and rows.flags.c_contiguous:
        # The same per-row set-up cost as in row_max. NumPy adds fewer than 8 numbers left to right,
        # exactly as the column sums of a transposed copy do, so the sums are the same to the bit.
        sums = np.ascontiguousarray(rows.T).sum(axis=0)
    elif n_cols <= EINSUM_SUM_MAX_COLUMNS and rows.flags.c_contiguous:
        # einsum's vectorized loop adds a row about twice as fast as sum(axis=1) (make bench), and as
        # accurately up to a few thousand columns (its error grows with the row length; tested).
        sums = np.einsum("ij->i", rows)
    else:
        sums = rows.sum(axis=1)
    return sums[:, None] if keepdims else sums


def exp_without_shift_is_safe(row_max, n_cols, dtype):
    """True when e^x, unshifted, is exactly as safe as e^(x - max) for every row.

    Softmax does not change when a constant is added to a row, so the shift by the row maximum m is
    only there to keep the exponentials in range. When 0 <= m <= log(largest float / C), nothing
    can overflow (every e^x_j <= e^m and their sum <= C e^m), the sum is at least e^m >= 1, and an
    entry small enough to underflow unshifted (x_j below about -87 in float32) underflows shifted
    too, since x_j - m <= x_j. Skipping the shift then saves a pass and is, if anything, more
    accurate: x_j - m is rounded, x_j is exact. A NaN maximum compares False and takes the shift.
    """
    limit = np.log(np.finfo(dtype).max) - np.log(n_cols) - 1.0
    return bool(row_max.min() >= 0 and row_max.max() <= limit)


def finite_row_max(rows):
    """The largest entry of each row as an (M, 1) column, 0 where that is not finite.

    The shift must be finite: a row that is all -inf (or holds +inf) would otherwise give inf - inf = nan.
    """
    shift = row_max(rows)
    if np.isfinite(shift).all():  # the usual case: skip building a second array
        return shift
    return np.where(np.isfinite(shift), shift, 0)


def rows_along(x, axis):
    """`x` as an (M, C) view of rows when `axis` is its last axis and rows are contiguous in memory, else None.

    The row kernels below need that layout; other axes and layouts take the whole-array formulas.
    """
    if axis not in (-1, x.ndim - 1) or not x.flags.c_contiguous:
        return None
    return x.reshape(-1, x.shape[-1])


def softmax_block(x, p):
    """Write softmax(x) row by row into p (same shape): max, [subtract,] exp, sum, divide."""
    shift = finite_row_max(x)
    if exp_without_shift_is_safe(shift, x.shape[1], x.dtype):
        np.exp(x, out=p)  # no overflow possible: one pass fewer (see exp_without_shift_is_safe)
    else:
        np.subtract(x, shift, out=p)  # in place from here on: no temporaries
        np.exp(p, out=p)
    np.divide(p, row_sum(p, keepdims=True), out=p)


def row_dot(a, b):
    """The dot product of each row of `a` with the same row of `b`, as an (M, 1) column."""
    if a.shape[1] <= EINSUM_SUM_MAX_COLUMNS:
        return np.einsum("ij,ij->i", a, b)[:, None]  # no (M, C) temporary; accurate at this length (see row_sum)
    return row_sum(a * b, keepdims=True)


def softmax_value_and_grad_rows(rows, grad_rows):
    """softmax of each row and the gradient p * (g - <g, p>), in one sweep over the blocks."""
    probs, grad = np.empty(rows.shape, rows.dtype), np.empty(rows.shape, rows.dtype)

    def block(start, stop):
        p, g, d = probs[start:stop], grad_rows[start:stop], grad[start:stop]
        softmax_block(rows[start:stop], p)
        np.subtract(g, row_dot(g, p), out=d)  # while p is still in cache
        np.multiply(d, p, out=d)

    for_each_row_block(block, *rows.shape)
    return probs, grad


def log_softmax_block(x, logp):
    """Write log_softmax(x) row by row into logp; return e^(x - max) (a scratch buffer) and its row sums."""
    np.subtract(x, finite_row_max(x), out=logp)  # the exact shifted scores (see lossbook.stable.log_softmax)
    exps = np.exp(logp, out=scratch(logp.shape, logp.dtype))
    sums = row_sum(exps, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row gives nan quietly, as below
        np.subtract(logp, np.log(sums), out=logp)
    return exps, sums


def log_softmax_value_and_grad_rows(rows, grad_rows):
    """log_softmax of each row and the gradient g - p * sum(g), sharing the exponentials."""
    logps, grad = np.empty(rows.shape, rows.dtype), np.empty(rows.shape, rows.dtype)

    def block(start, stop):
        g, d = grad_rows[start:stop], grad[start:stop]
        exps, sums = log_softmax_block(rows[start:stop], logps[start:stop])
        with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row: nan, as its log_softmax
            # p * sum(g) = exps * (sum(g) / sums): the softmax is never written out.
            np.multiply(exps, row_sum(g, keepdims=True) / sums, out=d)
        np.subtract(g, d, out=d)

    for_each_row_block(block, *rows.shape)
    return logps, grad


# ----------------------------------------------------------------------------------------------
# Cross-entropy with plain index targets


def plain_cross_entropy_rows(scores, labels, grad_divisor):
    """Per-row losses of the plain case and the gradient ``(softmax - one_hot) / grad_divisor``, in one pass.

    Works through row blocks: shift by the row maximum, exponentiate, sum, take the log for the
    losses, and scale the same exponentials into the gradient, so that exp runs once per element
    for both results.
    """
    n_rows, n_classes = scores.shape
    losses = np.empty(n_rows, scores.dtype)
    grad = np.empty_like(scores)

    def block(start, stop):
        x = scores[start:stop]
        exps = grad[start:stop]  # the exponentials are computed in the gradient's own rows
        # Flat positions of the targets: 1-D fancy indexing is about three times faster than (row, label) pairs.
        targets = np.arange(stop - start) * n_classes + labels[start:stop]
        np.subtract(x, finite_row_max(x), out=exps)
        log_p = exps.reshape(-1)[targets]  # the shifted target scores, read before exp overwrites them
        np.exp(exps, out=exps)
        sums = row_sum(exps)
        with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row gives nan, as log_softmax does
            np.subtract(log_p, np.log(sums), out=log_p)
            np.negative(log_p, out=losses[start:stop])
            np.divide(exps, (sums * grad_divisor)[:, None], out=exps)  # softmax and the mean's 1/N in one pass
            exps.reshape(-1)[targets] -= 1 / grad_divisor

    for_each_row_block(block, n_rows, n_classes)
    return losses, grad


# ----------------------------------------------------------------------------------------------
# Binary cross-entropy with logits


def bce_with_logits(logits, target, weight, pos_weight, reduction):
    """The value and the gradient of binary cross-entropy with logits, sharing exp(-|x|) between them.

    Works through row blocks of the logits seen as (M, C), every intermediate in a reused scratch
    buffer. The formulas are those of :func:`~lossbook.stable.log_sigmoid` and
    :func:`~lossbook.stable.sigmoid`, written out so that both results come from one exp per element.
    `logits` and `target` are checked arrays of one shape and dtype; `weight` and `pos_weight` are
    None, a scalar, one entry per class (the last axis) or shaped like the logits.
    """
    shape, dtype = logits.shape, logits.dtype
    n_cols = shape[-1] if shape else 1
    x_rows, y_rows = logits.reshape(-1, n_cols), target.reshape(-1, n_cols)
    # A factor shaped like the logits is cut into the same row blocks; a scalar or per-class one broadcasts.
    factors = [
        f.reshape(-1, n_cols) if f is not None and f.shape == shape and f.ndim else f for f in (weight, pos_weight)
    ]
    losses = np.empty(x_rows.shape, dtype) if reduction == "none" else None
    block_sums = {}  # start row -> sum of the block's losses, for "mean" and "sum"
    grad = np.empty(x_rows.shape, dtype)

    def block(start, stop):
        x, y = x_rows[start:stop], y_rows[start:stop]
        w, pw = (f[start:stop] if f is not None and f.ndim == 2 else f for f in factors)
        buffer = [scratch(x.shape, dtype, slot) for slot in range(4)]
        e = np.exp(np.negative(np.abs(x, out=buffer[0]), out=buffer[0]), out=buffer[0])  # exp(-|x|) <= 1
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
    if losses is not None:
        return losses.reshape(shape), grad.reshape(shape)
    # Added in row order, whichever thread finished first: the same total on every run.
    total = sum(block_sums[start] for start in sorted(block_sums))
    return dtype.type(total if reduction == "sum" else total / x_rows.size), grad.reshape(shape)
