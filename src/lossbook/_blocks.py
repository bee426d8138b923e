"""Row blocks: how the kernels for large batches split an (M, C) array to stay in the CPU cache.

A loss makes five or more passes over its scores (max, subtract, exp, sum, scale), and a pass over
data the CPU has just touched, still in its cache, is cheaper than a pass that streams from main
memory. So the kernels work through a large batch one block of rows at a time, each block going
through every pass before the next block starts. NumPy releases the GIL inside its loops, so on a
machine with two or more cores a second thread works through half of the blocks. Each block writes
only its own rows of the results, so no number depends on which thread computed it; row results do
not depend on the block size either (a total summed block by block does, at the level of rounding).
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
