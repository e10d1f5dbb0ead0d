"""Batch-parallel time loops: the rows of a batch never meet inside the recurrence, so each thread
can run the whole loop for its own slice of the batch.

Given N threads, OpenBLAS spreads each per-step product (a few rows by 4H columns) over them and
they meet at every step, hundreds of times per sequence; here each thread instead runs the Numba
time loop (which releases the GIL) and its own single-threaded BLAS calls for a contiguous slice
of the batch, and the threads meet once per forward and once per backward. The weight gradients
are each slice's product Σ_t dz_tᵀ x_t, added up: the same sums in another order, so results
agree with the unsplit loop to rounding, not bit for bit (tests: equal outputs and input
gradients, gradient checks on the split path). A seeded run repeats exactly on the same machine;
on machines with other thread counts, set ``RNNLAB_BATCH_THREADS=1`` for bit-identical runs.

How many slices: as many as NumPy's OpenBLAS has threads (``OPENBLAS_NUM_THREADS``,
threadpoolctl), at most one per ``MIN_ROWS`` rows and none below the cell's least work per
slice and step (``slices``); ``RNNLAB_BATCH_THREADS=1`` turns it off, and
``threads(n)`` forces n for a block of code. Only where the whole loop runs in Numba (LSTM and
GRU with the kernels on); the NumPy path keeps one thread. During the split, OpenBLAS is set to
one thread (process-wide) and restored afterwards.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

from rnnlab.errors import RnnlabError
from rnnlab.nn import kernels

MIN_ROWS = 8  # fewer rows per slice and the per-step products are too small to gain
MIN_SLICE_WORK = 1 << 18  # nor below this many multiply-adds per slice and step (rows x size of W_hh);
# a cell may ask for more (``Cell.min_split_work``: the LSTM's 2^19)
_BLAS = kernels.blas_thread_functions()
_local = threading.local()  # threads(n) forces n for the calling thread only
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()
_active = 0        # split calls under way (from any user thread)
_saved = 1         # OpenBLAS's thread count before the first of them


def _setting() -> int | None:
    """RNNLAB_BATCH_THREADS as a positive int, or None for "follow OpenBLAS"."""
    value = os.environ.get("RNNLAB_BATCH_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise RnnlabError(f"RNNLAB_BATCH_THREADS must be a positive integer (1: no split), got {value!r}.")
    return int(value)


def slices(B: int, row_work: int | None = None, min_work: int = MIN_SLICE_WORK) -> int:
    """How many slices a batch of B rows runs in (1: no split); ``row_work``: multiply-adds per row
    and step (the size of W_hh), ``min_work``: the least per slice and step worth a thread.

    Each thread packs W_hh again for its own per-step product, so small products lose. Measured
    with ``benchmarks/batch_split.py`` (2 cores, split/whole train step, two runs): at or above the
    thresholds the split paid 0.56-0.74 (LSTM) and 0.68-0.83 (GRU), except LSTM hidden 32 (1.22,
    1.38); below them it ranged 0.81-1.43, mostly slower, and the machine's noise moves single
    figures by 0.3."""
    if _BLAS is None:
        return 1
    forced = getattr(_local, "forced", None)
    if forced is not None:
        return max(1, min(forced, B))
    n = _setting() or _BLAS[0]()
    n = min(n, B // MIN_ROWS)
    while row_work is not None and n > 1 and (B // n) * row_work < min_work:
        n -= 1
    return max(1, n)


@contextmanager
def threads(n: int):
    """Run the enclosed code with exactly ``n`` slices per batch (1: never split); for tests and tools."""
    prev = getattr(_local, "forced", None)
    _local.forced = int(n)
    try:
        yield
    finally:
        _local.forced = prev


def bounds(B: int, n: int) -> list[tuple[int, int]]:
    """n contiguous row ranges covering 0..B, sizes differing by at most one."""
    edges = [B * k // n for k in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


def run(fn, n: int) -> list:
    """[fn(0), ..., fn(n-1)] on n threads (the caller runs fn(0)), with OpenBLAS at one thread meanwhile.

    Returns only when every slice has finished, also when one raised (then fn(0)'s error first,
    else the lowest slice's), so no slice outlives the call or OpenBLAS's restored setting.
    """
    global _pool, _pool_size, _active, _saved
    if n <= 1:
        return [fn(0)]
    get, put = _BLAS
    with _lock:  # calls from several user threads: the first saves OpenBLAS's setting, the last restores it
        if _pool is None or _pool_size < n - 1:
            _pool, _pool_size = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="rnnlab-batch"), n - 1
        if _active == 0:
            _saved = get()
            put(1)
        _active += 1
        pool = _pool
    try:
        # the caller takes a slice itself rather than sleeping until the others wake it
        others = [pool.submit(fn, k) for k in range(1, n)]
        try:
            first = fn(0)
        finally:
            wait(others)
        return [first] + [f.result() for f in others]
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                put(_saved)
