"""numba kernels of :mod:`easel.scene3d.render` (CPU, parallel over threads).

Semantics (shared with the torch reference in ``render.py``):

* Primitives are triangles. Grid layer ``g`` of ``H x W`` vertices has quads
  ``q = r * (W - 1) + c``, each split into triangle 0 = (a, b, c) and
  triangle 1 = (b, d, c) with a = (r, c), b = (r, c+1), c = (r+1, c),
  d = (r+1, c+1); triangle ``k`` of the quad whose top-left vertex is
  ``i = r * W + c`` has id ``prim_offset[g] + 2i + k`` and is drawn when bit ``k`` of its mask byte is set. Footprint ``f`` (a
  source pixel's square, corners tl, tr, br, bl) has triangles (0, 1, 2) and
  (0, 2, 3) with ids ``fp_offset + 2f + k`` and flat colour.
* A pixel ``(y, x)`` samples at its centre ``(x + 0.5, y + 0.5)``; it is
  inside a triangle when all three barycentrics are ``>= -EPS``.
* Depth is interpolated perspective-correctly (``1/z`` linear in screen
  space) and multiplied by the primitive's depth scale (a small bias that
  lets the mesh win over footprints and fill layers at equal depth).
* The visible primitive has the smallest ``(depth, id)``; pixels with none
  are holes. The reported depth is the winner's, without its depth scale.
* Colour: mesh triangles interpolate their vertices' colours
  perspective-correctly, with the barycentrics clamped to >= 0 and
  renormalized; footprints are flat. Colour and depth are written with the
  z-test, so nothing is recomputed afterwards.
* Each thread draws its share of the primitives into its own buffers
  (``zbuf/ibuf/rgb/dep[t]``); :func:`merge` keeps, per pixel, the winner over
  threads. With one thread the buffers are the outputs and :func:`finish`
  only marks the holes.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

EPS = np.float32(1e-4)
NEAR = np.float32(1e-6)

# fast-math without "no NaNs / no infinities": the z-buffer is cleared to +inf
# and compares against it; without reassociation results stay deterministic
FASTMATH: set[str] = {"contract", "arcp", "nsz", "afn"}


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def project_points(pts, rot, trans, fx, fy, cx, cy, out):  # type: ignore[no-untyped-def]
    """Transform ``(N, 3)`` world points and project into ``out[:, 0:3] = (u, v, 1/z)``.

    ``1/z`` is 0 for points behind the camera.
    """
    n = pts.shape[0]
    r00, r01, r02 = rot[0, 0], rot[0, 1], rot[0, 2]
    r10, r11, r12 = rot[1, 0], rot[1, 1], rot[1, 2]
    r20, r21, r22 = rot[2, 0], rot[2, 1], rot[2, 2]
    t0, t1, t2 = trans[0], trans[1], trans[2]
    for i in prange(n):
        x = pts[i, 0]
        y = pts[i, 1]
        z = pts[i, 2]
        xc = r00 * x + r01 * y + r02 * z + t0
        yc = r10 * x + r11 * y + r12 * z + t1
        zc = r20 * x + r21 * y + r22 * z + t2
        if zc > NEAR:
            iz = np.float32(1.0) / zc
            out[i, 0] = fx * xc * iz + cx
            out[i, 1] = fy * yc * iz + cy
            out[i, 2] = iz
        else:
            out[i, 0] = np.float32(0.0)
            out[i, 1] = np.float32(0.0)
            out[i, 2] = np.float32(0.0)


@numba.njit(inline="always", cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _bary(u0, v0, u1, v1, u2, v2, px, py, inv_area):  # type: ignore[no-untyped-def]
    b0 = ((u1 - px) * (v2 - py) - (v1 - py) * (u2 - px)) * inv_area
    b1 = ((u2 - px) * (v0 - py) - (v2 - py) * (u0 - px)) * inv_area
    b2 = ((u0 - px) * (v1 - py) - (v0 - py) * (u1 - px)) * inv_area
    return b0, b1, b2


@numba.njit(inline="always", cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _write(z, zdepth, prim, r, g, b, zbuf, ibuf, rgb, dep, y, x):  # type: ignore[no-untyped-def]
    zb = zbuf[y, x]
    if z < zb or (z == zb and prim < ibuf[y, x]):
        zbuf[y, x] = z
        ibuf[y, x] = prim
        dep[y, x] = zdepth
        rgb[y, x, 0] = r
        rgb[y, x, 1] = g
        rgb[y, x, 2] = b


@numba.njit(inline="always", cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _raster_flat(  # type: ignore[no-untyped-def]
    u0, v0, w0, u1, v1, w1, u2, v2, w2, zscale, prim, r, g, b, zbuf, ibuf, rgb, dep
):
    """A flat-coloured triangle (footprints)."""
    if w0 <= 0.0 or w1 <= 0.0 or w2 <= 0.0:
        return
    height = zbuf.shape[0]
    width = zbuf.shape[1]
    umin = min(u0, min(u1, u2))
    umax = max(u0, max(u1, u2))
    vmin = min(v0, min(v1, v2))
    vmax = max(v0, max(v1, v2))
    if umax < 0.0 or vmax < 0.0 or umin > width or vmin > height:
        return
    x0 = max(int(math.ceil(umin - 0.5)), 0)
    x1 = min(int(math.floor(umax - 0.5)), width - 1)
    y0 = max(int(math.ceil(vmin - 0.5)), 0)
    y1 = min(int(math.floor(vmax - 0.5)), height - 1)
    if x0 > x1 or y0 > y1:
        return
    area = (u1 - u0) * (v2 - v0) - (v1 - v0) * (u2 - u0)
    if abs(area) < 1e-12:
        return
    inv_area = np.float32(1.0) / area
    for y in range(y0, y1 + 1):
        py = np.float32(y) + np.float32(0.5)
        for x in range(x0, x1 + 1):
            px = np.float32(x) + np.float32(0.5)
            b0, b1, b2 = _bary(u0, v0, u1, v1, u2, v2, px, py, inv_area)
            if b0 < -EPS or b1 < -EPS or b2 < -EPS:
                continue
            izp = b0 * w0 + b1 * w1 + b2 * w2
            if izp <= 0.0:
                continue
            zd = np.float32(1.0) / izp
            _write(zscale * zd, zd, prim, r, g, b, zbuf, ibuf, rgb, dep, y, x)


@numba.njit(inline="always", cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _frag(  # type: ignore[no-untyped-def]
    b0, b1, b2, vb_, i0, i1, i2, w0, w1, w2, zscale, prim, zbuf, ibuf, rgb, dep, y, x
):
    """One pixel of a smooth triangle with vertices ``i0, i1, i2``."""
    if b0 < -EPS or b1 < -EPS or b2 < -EPS:
        return
    izp = b0 * w0 + b1 * w1 + b2 * w2
    if izp <= 0.0:
        return
    zd = np.float32(1.0) / izp
    z = zscale * zd
    y = numba.uint64(y)  # unsigned indices: no negative-index wraparound checks
    x = numba.uint64(x)
    zb = zbuf[y, x]
    if z < zb or (z == zb and prim < ibuf[y, x]):
        c0 = max(b0, np.float32(0.0)) * w0
        c1 = max(b1, np.float32(0.0)) * w1
        c2 = max(b2, np.float32(0.0)) * w2
        total = c0 + c1 + c2
        if not total > 0.0:
            c0 = np.float32(1.0)
            total = np.float32(1.0)
        s = np.float32(1.0) / total
        zbuf[y, x] = z
        ibuf[y, x] = prim
        dep[y, x] = zd
        for ch in range(3):
            rgb[y, x, ch] = (c0 * vb_[i0, 3 + ch] + c1 * vb_[i1, 3 + ch] + c2 * vb_[i2, 3 + ch]) * s


@numba.njit(inline="always", cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _raster_quad(vb_, ia, w, m, zscale, prim, zbuf, ibuf, rgb, dep):  # type: ignore[no-untyped-def]
    """Both triangles of the quad whose top-left vertex is ``ia`` (mask bits ``m``)."""
    ib = ia + 1
    ic = ia + w
    id_ = ic + 1
    wa, wb, wc, wd = vb_[ia, 2], vb_[ib, 2], vb_[ic, 2], vb_[id_, 2]
    t0 = (m & 1) != 0 and wa > 0.0 and wb > 0.0 and wc > 0.0
    t1 = (m & 2) != 0 and wb > 0.0 and wd > 0.0 and wc > 0.0
    if not (t0 or t1):
        return
    ua, ub, uc, ud = vb_[ia, 0], vb_[ib, 0], vb_[ic, 0], vb_[id_, 0]
    va, vb, vc, vd = vb_[ia, 1], vb_[ib, 1], vb_[ic, 1], vb_[id_, 1]
    umin = min(ub, uc)
    umax = max(ub, uc)
    vmin = min(vb, vc)
    vmax = max(vb, vc)
    if t0:
        umin = min(umin, ua)
        umax = max(umax, ua)
        vmin = min(vmin, va)
        vmax = max(vmax, va)
    if t1:
        umin = min(umin, ud)
        umax = max(umax, ud)
        vmin = min(vmin, vd)
        vmax = max(vmax, vd)
    height = zbuf.shape[0]
    width = zbuf.shape[1]
    if umax < 0.0 or vmax < 0.0 or umin > width or vmin > height:
        return
    x0 = max(int(math.ceil(umin - 0.5)), 0)
    x1 = min(int(math.floor(umax - 0.5)), width - 1)
    y0 = max(int(math.ceil(vmin - 0.5)), 0)
    y1 = min(int(math.floor(vmax - 0.5)), height - 1)
    if x0 > x1 or y0 > y1:
        return
    area0 = (ub - ua) * (vc - va) - (vb - va) * (uc - ua)
    area1 = (ud - ub) * (vc - vb) - (vd - vb) * (uc - ub)
    if abs(area0) < 1e-12:
        t0 = False
    if abs(area1) < 1e-12:
        t1 = False
    inv0 = np.float32(1.0) / area0 if t0 else np.float32(0.0)
    inv1 = np.float32(1.0) / area1 if t1 else np.float32(0.0)
    # a convex quad: a pixel clearly on a's side of the diagonal b-c is outside triangle 1
    split = t0 and t1 and ((area0 > 0.0) == (area1 > 0.0))
    for y in range(y0, y1 + 1):
        py = np.float32(y) + np.float32(0.5)
        for x in range(x0, x1 + 1):
            px = np.float32(x) + np.float32(0.5)
            test1 = t1
            if t0:
                b0, b1, b2 = _bary(ua, va, ub, vb, uc, vc, px, py, inv0)
                _frag(b0, b1, b2, vb_, ia, ib, ic, wa, wb, wc, zscale, prim, zbuf, ibuf, rgb, dep, y, x)
                if split and b0 > EPS:
                    test1 = False
            if test1:
                b0, b1, b2 = _bary(ub, vb, ud, vd, uc, vc, px, py, inv1)
                _frag(b0, b1, b2, vb_, ib, id_, ic, wb, wd, wc, zscale, prim + 1, zbuf, ibuf, rgb, dep, y, x)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def raster(  # type: ignore[no-untyped-def]
    vbuf,
    grid_h,
    grid_w,
    grid_voff,
    grid_moff,
    grid_poff,
    grid_zscale,
    masks,
    fbuf,
    fcol,
    fp_zscale,
    fp_offset,
    zbuf,
    ibuf,
    rgb,
    dep,
):
    """Rasterize every grid layer and footprint into per-thread buffers ``[t]``.

    ``vbuf[i]`` holds the projected ``(u, v, 1/z)`` and the colour ``(r, g, b)``
    of vertex ``i``; ``fbuf[4f + k, 0:3]`` the projected corner ``k`` of
    footprint ``f`` and ``fcol[f]`` its colour.
    """
    nthreads = zbuf.shape[0]
    ngrids = grid_h.shape[0]
    nfp = fbuf.shape[0] // 4
    for t in prange(nthreads):
        zb = zbuf[t]
        ib = ibuf[t]
        cb = rgb[t]
        db = dep[t]
        zb[:, :] = np.inf  # the other buffers are only read where zbuf is finite
        for g in range(ngrids):
            h = grid_h[g]
            w = grid_w[g]
            voff = grid_voff[g]
            moff = grid_moff[g]
            poff = grid_poff[g]
            zs = grid_zscale[g]
            rows = h - 1
            r0 = rows * t // nthreads
            r1 = rows * (t + 1) // nthreads
            for r in range(r0, r1):
                mrow = moff + r * (w - 1)
                vrow = voff + r * w
                prow = poff + 2 * r * w
                for c in range(w - 1):
                    m = masks[mrow + c]
                    if m == 0:
                        continue
                    _raster_quad(vbuf, vrow + c, w, m, zs, prow + 2 * c, zb, ib, cb, db)
        f0 = nfp * t // nthreads
        f1 = nfp * (t + 1) // nthreads
        for f in range(f0, f1):
            zs = fp_zscale[f]
            prim = fp_offset + 2 * f
            c = 4 * f
            cr, cg, cbl = fcol[f, 0], fcol[f, 1], fcol[f, 2]
            for k in range(2):  # the quad's two triangles: corners (0, 1, 2) and (0, 2, 3)
                b = c + 1 + k
                d = c + 2 + k
                _raster_flat(
                    fbuf[c, 0],
                    fbuf[c, 1],
                    fbuf[c, 2],
                    fbuf[b, 0],
                    fbuf[b, 1],
                    fbuf[b, 2],
                    fbuf[d, 0],
                    fbuf[d, 1],
                    fbuf[d, 2],
                    zs,
                    prim + k,
                    cr,
                    cg,
                    cbl,
                    zb,
                    ib,
                    cb,
                    db,
                )


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def merge(zbuf, ibuf, rgb, dep, out_rgb, out_depth, out_holes):  # type: ignore[no-untyped-def]
    """Per pixel, the thread buffer with the smallest ``(depth, id)``; holes where none."""
    nthreads = zbuf.shape[0]
    height = zbuf.shape[1]
    width = zbuf.shape[2]
    for y in prange(height):
        for x in range(width):
            best = -1
            z = np.inf
            prim = 0
            for t in range(nthreads):
                z2 = zbuf[t, y, x]
                if z2 < np.inf:
                    p2 = ibuf[t, y, x]
                    if best < 0 or z2 < z or (z2 == z and p2 < prim):
                        best = t
                        z = z2
                        prim = p2
            out_holes[y, x] = best < 0
            if best < 0:
                out_depth[y, x] = np.inf
                out_rgb[y, x, 0] = 0.0
                out_rgb[y, x, 1] = 0.0
                out_rgb[y, x, 2] = 0.0
            else:
                out_depth[y, x] = dep[best, y, x]
                out_rgb[y, x, 0] = rgb[best, y, x, 0]
                out_rgb[y, x, 1] = rgb[best, y, x, 1]
                out_rgb[y, x, 2] = rgb[best, y, x, 2]


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def finish(zbuf, out_rgb, out_depth, out_holes):  # type: ignore[no-untyped-def]
    """One thread drew straight into the outputs: mark (and blank) the holes."""
    height = zbuf.shape[1]
    width = zbuf.shape[2]
    for y in prange(height):
        for x in range(width):
            hole = not zbuf[0, y, x] < np.inf
            out_holes[y, x] = hole
            if hole:
                out_depth[y, x] = np.inf
                out_rgb[y, x, 0] = 0.0
                out_rgb[y, x, 1] = 0.0
                out_rgb[y, x, 2] = 0.0
