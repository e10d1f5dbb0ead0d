"""Optional Numba kernels that fuse a cell's elementwise gate maths into one pass.

They replace the elementwise lines of ``cells/lstm.py`` and ``cells/gru.py`` (whose comments carry
the equations). ``*_sequence`` kernels also run the time loop of ``Recurrent`` for those cells
inside Numba (the same steps, BLAS products through ``np.dot``): on small batches Python's
per-step overhead would otherwise cost as much as the arithmetic. Used automatically when Numba
imports; ``RNNLAB_NUMBA=0`` (or ``use(False)``) forces pure NumPy. The test suite runs both paths.
"""
from __future__ import annotations

import math
import os

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is optional
    numba = None

AVAILABLE = numba is not None
ENABLED = AVAILABLE and os.environ.get("RNNLAB_NUMBA", "1") != "0"


def use(flag: bool) -> bool:
    """Switch the fused kernels on or off; returns the previous setting."""
    global ENABLED
    prev = ENABLED
    ENABLED = bool(flag) and AVAILABLE
    return prev


def mask_args(mask, like):
    """(mask, use_mask) for the sequence kernels; a 1x1x1 stand-in keeps one compiled signature."""
    if mask is None:
        return np.ones((1, 1, 1), like.dtype), False
    return mask, True


def _jit(fn):
    # error_model="numpy": no ZeroDivisionError checks, which would stop the loops vectorising
    return numba.njit(cache=True, fastmath=True, nogil=True, error_model="numpy")(fn) if AVAILABLE else fn


def _tanh(x):  # pragma: no cover - replaced by the overload below
    return math.tanh(x)


def _sig(x):  # pragma: no cover - replaced by the overload below
    return 0.5 + 0.5 * math.tanh(0.5 * x)


if AVAILABLE:
    from numba import types
    from numba.extending import overload

    # tanh(x) ≈ x p(x²)/q(x²) on [-7.9, 7.9] (Eigen's rational fit, max error 2.6e-7 < 2 ulp):
    # pure arithmetic, so float32 loops vectorise; float64 keeps libm's tanh (exact to 1e-16).
    _A0, _A1, _A2, _A3, _A4, _A5, _A6 = (np.float32(v) for v in (
        -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
        1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))
    _B0, _B1, _B2, _B3 = (np.float32(v) for v in (
        1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))
    _CLAMP, _HALF = np.float32(7.90531110763549805), np.float32(0.5)

    @overload(_tanh, inline="always")
    def _tanh_impl(x):
        if x == types.float32:
            def rational(x):
                x = min(max(x, -_CLAMP), _CLAMP)
                x2 = x * x
                p = (((((_A0 * x2 + _A1) * x2 + _A2) * x2 + _A3) * x2 + _A4) * x2 + _A5) * x2 + _A6
                q = ((_B0 * x2 + _B1) * x2 + _B2) * x2 + _B3
                return x * p / q
            return rational
        return lambda x: math.tanh(x)

    @overload(_sig, inline="always")
    def _sig_impl(x):
        # σ(x) = ½(1 + tanh(x/2)), in the precision of x
        if x == types.float32:
            return lambda x: _HALF + _HALF * _tanh(_HALF * x)
        return lambda x: 0.5 + 0.5 * math.tanh(0.5 * x)


# Each kernel walks one batch row at a time through 1-D views: with plain 2-D indexing LLVM cannot
# rule out aliasing between the arrays and leaves the loop scalar (8x slower).

@_jit
def lstm_forward(z, zx, c_prev, c, tc, h):
    B, H = c.shape
    for b in range(B):
        zi, zf, zg, zo = z[b, :H], z[b, H:2 * H], z[b, 2 * H:3 * H], z[b, 3 * H:]
        xi, xf, xg, xo = zx[b, :H], zx[b, H:2 * H], zx[b, 2 * H:3 * H], zx[b, 3 * H:]
        cp, cb, tb, hb = c_prev[b], c[b], tc[b], h[b]
        for j in range(H):
            i, f = _sig(zi[j] + xi[j]), _sig(zf[j] + xf[j])
            g, o = _tanh(zg[j] + xg[j]), _sig(zo[j] + xo[j])
            zi[j], zf[j], zg[j], zo[j] = i, f, g, o
            cc = f * cp[j] + i * g
            cb[j] = cc
            t = _tanh(cc)
            tb[j] = t
            hb[j] = o * t


@_jit
def lstm_backward(gates, tc, c_prev, dh, dc, dz, dc_prev, h_path=True):
    # h_path=False: dc already holds the path through h_t (layer-normalised cell, kernels_options)
    B, H = dh.shape
    for b in range(B):
        gi, gf, gg, go = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        di, df, dg, do = dz[b, :H], dz[b, H:2 * H], dz[b, 2 * H:3 * H], dz[b, 3 * H:]
        tb, cp, dhb, dcb, dcp = tc[b], c_prev[b], dh[b], dc[b], dc_prev[b]
        for j in range(H):
            i, f, g, o, t, d_h = gi[j], gf[j], gg[j], go[j], tb[j], dhb[j]
            d_c = dcb[j]
            if h_path:  # loop-invariant: LLVM hoists it, the plain loop is unchanged
                d_c += d_h * o * (1 - t * t)
            di[j] = d_c * g * i * (1 - i)
            df[j] = d_c * cp[j] * f * (1 - f)
            dg[j] = d_c * i * (1 - g * g)
            do[j] = d_h * t * o * (1 - o)
            dcp[j] = d_c * f


@_jit
def gru_forward(zx, zh, b_hh, h_prev, g, h):
    B, H = h.shape
    for b in range(B):
        zhb = zh[b]
        for j in range(3 * H):
            zhb[j] += b_hh[j]
        xr, xz, xn = zx[b, :H], zx[b, H:2 * H], zx[b, 2 * H:]
        hr, hz, hn = zh[b, :H], zh[b, H:2 * H], zh[b, 2 * H:]
        gr, gz, gn = g[b, :H], g[b, H:2 * H], g[b, 2 * H:]
        hp, hb = h_prev[b], h[b]
        for j in range(H):
            r = _sig(xr[j] + hr[j])
            z = _sig(xz[j] + hz[j])
            n = _tanh(xn[j] + r * hn[j])
            gr[j], gz[j], gn[j] = r, z, n
            hb[j] = n + z * (hp[j] - n)


@_jit
def gru_backward(g, zh, h_prev, dh, dzx, dzh, dh_direct):
    B, H = dh.shape
    for b in range(B):
        gr, gz, gn, hn = g[b, :H], g[b, H:2 * H], g[b, 2 * H:], zh[b, 2 * H:]
        xr, xz, xn = dzx[b, :H], dzx[b, H:2 * H], dzx[b, 2 * H:]
        hr, hz, hnd = dzh[b, :H], dzh[b, H:2 * H], dzh[b, 2 * H:]
        hp, dhb, dd = h_prev[b], dh[b], dh_direct[b]
        for j in range(H):
            r, z, n, d_h = gr[j], gz[j], gn[j], dhb[j]
            dn = d_h * (1 - z) * (1 - n * n)
            dr = dn * hn[j] * r * (1 - r)
            dzz = d_h * (hp[j] - n) * z * (1 - z)
            xr[j], xz[j], xn[j] = dr, dzz, dn
            hr[j], hz[j], hnd[j] = dr, dzz, dn * r
            dd[j] = d_h * z


# -- whole sequences: Recurrent's loop for LSTM and GRU, without Python between steps -------------
# mask (T, B, 1) holds exact 0/1; a padded row keeps its state and passes its gradient straight back.
#
# The products call NumPy's own OpenBLAS through ctypes. Numba's np.dot would go through SciPy's,
# a second thread pool: on 2 cores the two pools' spinning threads starve each other (3x slower).
# Where NumPy's BLAS cannot be found, SEQUENCE is False and Recurrent keeps its Python loop.

def _numpy_openblas():
    import ctypes
    import glob

    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas64_*.so"))):
        return ctypes.CDLL(path)
    return None


def _find_numpy_gemm():
    import ctypes

    lib = _numpy_openblas()
    if lib is not None:
        fns = []
        for name, real in (("scipy_cblas_sgemm64_", ctypes.c_float), ("scipy_cblas_dgemm64_", ctypes.c_double)):
            fn = getattr(lib, name, None)
            if fn is None:
                return None
            i64, ptr, cint = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
            fn.argtypes = [cint, cint, cint, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64]
            fn.restype = None
            fns.append(fn)
        return fns
    return None


_GEMM = _find_numpy_gemm() if AVAILABLE else None
SEQUENCE = _GEMM is not None


def blas_thread_functions():
    """(get, set) of the thread count of NumPy's OpenBLAS, or None where it cannot be found."""
    lib = _numpy_openblas() if SEQUENCE else None
    get = getattr(lib, "scipy_openblas_get_num_threads64_", None)
    put = getattr(lib, "scipy_openblas_set_num_threads64_", None)
    if get is None or put is None:
        return None
    import ctypes

    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
    return get, put


def _gemm(a, b, c):  # pragma: no cover - replaced by the overload below
    np.matmul(a, b, out=c)


if SEQUENCE:
    _sgemm, _dgemm = _GEMM
    _ROW_MAJOR, _NO_TRANS = 101, 111

    @overload(_gemm)
    def _gemm_impl(a, b, c):
        # c = a @ b for C-contiguous 2-D arrays
        if a.dtype == types.float32:
            def sgemm(a, b, c):
                m, k = a.shape
                n = b.shape[1]
                _sgemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, np.float32(1), a.ctypes, k, b.ctypes, n,
                       np.float32(0), c.ctypes, n)
            return sgemm

        def dgemm(a, b, c):
            m, k = a.shape
            n = b.shape[1]
            _dgemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, a.ctypes, k, b.ctypes, n, 0.0, c.ctypes, n)
        return dgemm


def _jit_seq(fn):
    # not cached: the BLAS address is compiled in and changes from one process to the next
    return numba.njit(fastmath=True, nogil=True, error_model="numpy")(fn) if SEQUENCE else fn

@_jit
def _keep_padded_rows(new, old, m):
    for b in range(new.shape[0]):
        if m[b, 0] == 0:
            new[b, :] = old[b, :]


@_jit
def _zero_padded_rows(a, m):
    for b in range(a.shape[0]):
        if m[b, 0] == 0:
            a[b, :] = 0


@_jit
def _add_into(out, a, b):
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = a[i, j] + b[i, j]


@_jit_seq
def lstm_forward_sequence(zx, w_hh_t, Hs, Cs, G, TC, mask, use_mask):
    for t in range(zx.shape[0]):
        _gemm(Hs[t], w_hh_t, G[t])
        lstm_forward(G[t], zx[t], Cs[t], Cs[t + 1], TC[t], Hs[t + 1])
        if use_mask:
            _keep_padded_rows(Hs[t + 1], Hs[t], mask[t])
            _keep_padded_rows(Cs[t + 1], Cs[t], mask[t])


@_jit_seq
def lstm_backward_sequence(dH, dh, dc, G, TC, Cs, w_hh, dZ, mask, use_mask):
    dh_tot, dh_prev, dc_prev = np.empty_like(dh), np.empty_like(dh), np.empty_like(dc)
    for t in range(dH.shape[0] - 1, -1, -1):
        _add_into(dh_tot, dH[t], dh)
        lstm_backward(G[t], TC[t], Cs[t], dh_tot, dc, dZ[t], dc_prev)
        if use_mask:
            _zero_padded_rows(dZ[t], mask[t])
        _gemm(dZ[t], w_hh, dh_prev)
        if use_mask:
            _keep_padded_rows(dh_prev, dh_tot, mask[t])
            _keep_padded_rows(dc_prev, dc, mask[t])
        dh, dh_prev = dh_prev, dh
        dc, dc_prev = dc_prev, dc
    return dh, dc


@_jit_seq
def gru_forward_sequence(zx, w_hh_t, b_hh, Hs, G, ZH, mask, use_mask):
    for t in range(zx.shape[0]):
        _gemm(Hs[t], w_hh_t, ZH[t])
        gru_forward(zx[t], ZH[t], b_hh, Hs[t], G[t], Hs[t + 1])
        if use_mask:
            _keep_padded_rows(Hs[t + 1], Hs[t], mask[t])


@_jit_seq
def gru_backward_sequence(dH, dh, G, ZH, Hs, w_hh, dZX, dZH, mask, use_mask):
    dh_tot, dh_prev, direct = np.empty_like(dh), np.empty_like(dh), np.empty_like(dh)
    for t in range(dH.shape[0] - 1, -1, -1):
        _add_into(dh_tot, dH[t], dh)
        gru_backward(G[t], ZH[t], Hs[t], dh_tot, dZX[t], dZH[t], direct)
        if use_mask:
            _zero_padded_rows(dZX[t], mask[t])
            _zero_padded_rows(dZH[t], mask[t])
        _gemm(dZH[t], w_hh, dh_prev)
        dh_prev += direct
        if use_mask:
            _keep_padded_rows(dh_prev, dh_tot, mask[t])
        dh, dh_prev = dh_prev, dh
    return dh
