"""Row blocks: how the kernels for large batches split an (M, C) array to stay in the CPU cache.

A pass over an array that fits in the per-core L2 cache (1 to 2 MB on the machines the course is
measured on) costs a fraction of a pass that streams from main memory, and a loss makes five or more
passes (max, subtract, exp, sum, scale). So the kernels work through a large batch one block of rows
at a time, each block going through every pass before the next block starts. NumPy releases the GIL
inside its loops, so on a machine with two or more cores a second thread works through half of the
blocks. Each block writes only its own rows of the result, so the numbers do not depend on which
thread computed them, or on the block size.
"""

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# 64 Ki elements (256 KB of float32, 512 KB of float64): a block, its output and a scratch buffer fit
# in L2 together, and a block is large enough that NumPy's per-call overhead (about 1 us) stays small.
BLOCK_ELEMENTS = 1 << 18
# Below about half a million elements, starting work on a second thread costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 19
WORKERS = min(2, os.cpu_count() or 1)

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
    """Call ``work(start, stop)`` for every row block; on two threads when the array is large.

    ``work`` must write only to rows ``start:stop`` of its outputs.
    """
    spans = row_spans(n_rows, n_cols)
    if WORKERS < 2 or len(spans) < 2 or n_rows * n_cols < PARALLEL_MIN_ELEMENTS:
        for start, stop in spans:
            work(start, stop)
        return
    # Each task runs in a copy of the caller's context, so np.errstate set by the caller holds there too.
    tasks = [_pool().submit(contextvars.copy_context().run, work, start, stop) for start, stop in spans]
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
