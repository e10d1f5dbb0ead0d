"""Optional Numba kernels that fuse a cell's elementwise gate maths into one pass.

They replace the elementwise lines of ``cells/lstm.py`` and ``cells/gru.py`` (whose comments carry
the equations); the matrix products stay in NumPy/BLAS. Used automatically when Numba imports;
``RNNLAB_NUMBA=0`` (or ``use(False)``) forces pure NumPy. The test suite runs both paths.
"""
from __future__ import annotations

import math
import os

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


def _jit(fn):
    # error_model="numpy": no ZeroDivisionError checks, which would stop the loops vectorising
    return numba.njit(cache=True, fastmath=True, nogil=True, error_model="numpy")(fn) if AVAILABLE else fn


def _tanh(x):  # pragma: no cover - replaced by the overload below
    return math.tanh(x)


def _sig(x):  # pragma: no cover - replaced by the overload below
    return 0.5 + 0.5 * math.tanh(0.5 * x)


if AVAILABLE:
    import numpy as np
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
def lstm_backward(gates, tc, c_prev, dh, dc, dz, dc_prev):
    B, H = dh.shape
    for b in range(B):
        gi, gf, gg, go = gates[b, :H], gates[b, H:2 * H], gates[b, 2 * H:3 * H], gates[b, 3 * H:]
        di, df, dg, do = dz[b, :H], dz[b, H:2 * H], dz[b, 2 * H:3 * H], dz[b, 3 * H:]
        tb, cp, dhb, dcb, dcp = tc[b], c_prev[b], dh[b], dc[b], dc_prev[b]
        for j in range(H):
            i, f, g, o, t, d_h = gi[j], gf[j], gg[j], go[j], tb[j], dhb[j]
            d_c = dcb[j] + d_h * o * (1 - t * t)
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
