"""Batch-parallel time loops (``nn.batch_threads``): a batch split over threads gives the unsplit
results (outputs and input gradients exactly, parameter gradients to rounding), passes the gradient
checks, restores OpenBLAS, and is used only where it can pay."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn import batch_threads, checks, kernels

pytestmark = pytest.mark.skipif(batch_threads._BLAS is None or not kernels.SEQUENCE,
                                reason="needs Numba and NumPy's OpenBLAS")


@pytest.fixture(autouse=True)
def _kernels_on(_restore_kernels):
    kernels.use(True)  # the split runs the Numba loops, also where RNNLAB_NUMBA=0 turned them off

OPTIONS = {
    "plain": {},
    "everything": {"layer_norm": True, "recurrent_dropout": 0.2, "zoneout": 0.1, "input_dropout": 0.1,
                   "bidirectional": True, "num_layers": 2, "dropout": 0.1},
}


def run(cls, n, kw, x, lengths, d):
    layer = cls(x.shape[2], 6, seed=0, dtype="float64", **kw)
    with batch_threads.threads(n):
        out, state = layer.forward(x, lengths=lengths)
        dx = layer.backward(d)
    return layer, out, state, dx


@pytest.mark.parametrize("kw", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_split_batch_equals_the_unsplit_loop(cls, kw):
    rng = np.random.default_rng(1)
    B, T = 19, 7
    x = rng.standard_normal((B, T, 5))
    lengths = rng.integers(1, T + 1, B)
    d = rng.standard_normal((B, T, 6 * (2 if kw.get("bidirectional") else 1)))
    one, out1, st1, dx1 = run(cls, 1, kw, x, lengths, d)
    three, out3, st3, dx3 = run(cls, 3, kw, x, lengths, d)
    assert one._runs[0].parts is None and len(three._runs[0].parts) == 3   # the split really happened
    np.testing.assert_array_equal(out1, out3)
    for a, b in zip(np.atleast_1d(st1) if cls is nn.GRU else st1, np.atleast_1d(st3) if cls is nn.GRU else st3):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dx1, dx3)
    for k in one.grads:
        np.testing.assert_allclose(three.grads[k], one.grads[k], rtol=1e-12, atol=1e-12, err_msg=k)
    for a, b in zip(one.grad_initial_state, three.grad_initial_state):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("option", ["lengths", "everything", "layer_norm", "regularised_everything"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_split_batch_passes_the_gradient_checks(cell, option):
    with batch_threads.threads(2):
        errors = checks.gradcheck_errors(cell, option)
    bad = {k: e for k, e in errors.items() if not e < checks.GRAD_TOL}
    assert not bad


def test_openblas_threads_are_restored_after_a_split_call():
    get, put = batch_threads._BLAS
    before = get()
    try:
        put(2)
        seen = batch_threads.run(lambda k: get(), 2)
        assert seen == [1, 1] and get() == 2
    finally:
        put(before)


def test_a_failing_slice_waits_for_the_others_and_raises_the_callers_error():
    import threading
    import time

    get, put = batch_threads._BLAS
    before = get()
    finished = threading.Event()

    def fn(k):
        if k == 0:
            raise ValueError("slice 0")
        if k == 1:
            raise KeyError("slice 1")
        time.sleep(0.2)
        finished.set()

    try:
        put(2)
        with pytest.raises(ValueError, match="slice 0"):
            batch_threads.run(fn, 3)
        assert finished.is_set() and get() == 2 and batch_threads._active == 0
    finally:
        put(before)


def test_one_slice_runs_in_the_caller():
    import threading

    assert batch_threads.run(lambda k: (k, threading.get_ident()), 1) == [(0, threading.get_ident())]


def test_concurrent_split_calls_restore_openblas_once_all_are_done():
    import threading

    get, put = batch_threads._BLAS
    before = get()
    layer = [nn.LSTM(3, 4, seed=0) for _ in range(4)]
    x = np.ones((16, 20, 3), np.float32)
    try:
        put(2)

        def work(k):
            with batch_threads.threads(2):
                for _ in range(5):
                    layer[k].forward(x)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert get() == 2 and batch_threads._active == 0
    finally:
        put(before)


def test_slices_follow_openblas_min_rows_and_the_switch(monkeypatch):
    monkeypatch.delenv("RNNLAB_BATCH_THREADS", raising=False)
    get, put = batch_threads._BLAS
    before = get()
    try:
        put(2)
        assert batch_threads.slices(64) == 2
        assert batch_threads.slices(8 * 2 - 1) == 1           # fewer than MIN_ROWS rows per slice
        assert batch_threads.slices(16, 64 * 256) == 1         # 8 rows of hidden 64: too little work per slice
        assert batch_threads.slices(32, 64 * 256) == 2
        assert batch_threads.slices(32, 64 * 256, 1 << 19) == 1 and batch_threads.slices(64, 64 * 256, 1 << 19) == 2
        monkeypatch.setenv("RNNLAB_BATCH_THREADS", "1")
        assert batch_threads.slices(64) == 1
        with batch_threads.threads(4):
            assert batch_threads.slices(3) == 3                # forced: at most one slice per row
        put(1)
        monkeypatch.delenv("RNNLAB_BATCH_THREADS")
        assert batch_threads.slices(64) == 1
    finally:
        put(before)


def test_bounds_cover_the_batch_in_near_equal_slices():
    assert batch_threads.bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_numpy_path_never_splits(kernel_path):
    layer = nn.LSTM(3, 4, seed=0)
    with batch_threads.threads(2):
        layer.forward(np.ones((8, 3, 3), np.float32))
    assert (layer._runs[0].parts is not None) == (kernel_path == "numba")


def test_state_gradients_after_a_split_call_say_how_to_get_them():
    from rnnlab.viz import gradient_flow as gf

    layer = nn.LSTM(3, 4, seed=0)
    with batch_threads.threads(2):
        layer.forward(np.ones((8, 3, 3), np.float32))
        layer.backward(np.ones((8, 3, 4), np.float32))
    with pytest.raises(RnnlabError, match=r"batch_threads.threads\(1\)"):
        gf.state_gradients(layer, np.ones((8, 3, 4)))


def test_a_bad_switch_value_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("RNNLAB_BATCH_THREADS", "two")
    with pytest.raises(RnnlabError, match="RNNLAB_BATCH_THREADS must be a positive integer"):
        batch_threads.slices(64)
