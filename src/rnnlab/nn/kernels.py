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
    return numba.njit(cache=True, fastmath=False, nogil=True)(fn) if AVAILABLE else fn


@_jit
def _sig(x):
    return 0.5 * (1.0 + math.tanh(0.5 * x))


@_jit
def lstm_forward(z, c_prev, c, tc, h):
    B, H = c.shape
    for b in range(B):
        for j in range(H):
            i = _sig(z[b, j])
            f = _sig(z[b, H + j])
            g = math.tanh(z[b, 2 * H + j])
            o = _sig(z[b, 3 * H + j])
            z[b, j] = i
            z[b, H + j] = f
            z[b, 2 * H + j] = g
            z[b, 3 * H + j] = o
            cc = f * c_prev[b, j] + i * g
            c[b, j] = cc
            t = math.tanh(cc)
            tc[b, j] = t
            h[b, j] = o * t


@_jit
def lstm_backward(gates, tc, c_prev, dh, dc, dz, dc_prev):
    B, H = dh.shape
    for b in range(B):
        for j in range(H):
            i = gates[b, j]
            f = gates[b, H + j]
            g = gates[b, 2 * H + j]
            o = gates[b, 3 * H + j]
            t = tc[b, j]
            d_h = dh[b, j]
            d_c = dc[b, j] + d_h * o * (1.0 - t * t)
            dz[b, j] = d_c * g * i * (1.0 - i)
            dz[b, H + j] = d_c * c_prev[b, j] * f * (1.0 - f)
            dz[b, 2 * H + j] = d_c * i * (1.0 - g * g)
            dz[b, 3 * H + j] = d_h * t * o * (1.0 - o)
            dc_prev[b, j] = d_c * f


@_jit
def gru_forward(zx, zh, h_prev, g, h):
    B, H = h.shape
    for b in range(B):
        for j in range(H):
            r = _sig(zx[b, j] + zh[b, j])
            z = _sig(zx[b, H + j] + zh[b, H + j])
            n = math.tanh(zx[b, 2 * H + j] + r * zh[b, 2 * H + j])
            g[b, j] = r
            g[b, H + j] = z
            g[b, 2 * H + j] = n
            h[b, j] = n + z * (h_prev[b, j] - n)


@_jit
def gru_backward(g, zh, h_prev, dh, dzx, dzh, dh_direct):
    B, H = dh.shape
    for b in range(B):
        for j in range(H):
            r = g[b, j]
            z = g[b, H + j]
            n = g[b, 2 * H + j]
            d_h = dh[b, j]
            dn = d_h * (1.0 - z) * (1.0 - n * n)
            dr = dn * zh[b, 2 * H + j] * r * (1.0 - r)
            dzz = d_h * (h_prev[b, j] - n) * z * (1.0 - z)
            dzx[b, j] = dr
            dzx[b, H + j] = dzz
            dzx[b, 2 * H + j] = dn
            dzh[b, j] = dr
            dzh[b, H + j] = dzz
            dzh[b, 2 * H + j] = dn * r
            dh_direct[b, j] = d_h * z
