"""Shared fixtures: each test leaves the kernel switch as it found it; ``kernel_path`` runs both paths."""
import pytest

from rnnlab.nn import kernels


@pytest.fixture(autouse=True)
def _restore_kernels(monkeypatch):
    # monkeypatch puts the saved value back at teardown, whatever kernels.use() did in between
    monkeypatch.setattr(kernels, "ENABLED", kernels.ENABLED)


@pytest.fixture(params=["numpy", "numba"])
def kernel_path(request, _restore_kernels):
    """Switch the fused kernels on ('numba') or off ('numpy') for one test; skip 'numba' without Numba."""
    if request.param == "numba" and not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    kernels.use(request.param == "numba")
    return request.param


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Tests use small matrices: one BLAS thread avoids spinning thread pools fighting over 2 cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small tensors on a shared 2-core machine: one torch intra-op thread is fastest and steadiest
    (applied to every module that has imported torch; none is imported here)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
