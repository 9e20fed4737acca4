"""numba kernels of :mod:`easel.scene3d.render` (CPU, run on several threads by the renderer).

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

Threads: every kernel is a serial loop over a range of work items (points,
thread shares, rows), compiled with ``nogil=True``; ``render.py`` runs the
ranges at once with :func:`easel._parallel.run_chunks` on numba's thread
count. The kernels are compiled once per machine and kept in numba's cache
(``cache=True``); they use no ``prange``, no NumPy allocation, no
``min``/``max`` builtins and no slice assignment, whose compilation would make
the first run on a machine seconds slower (``tests/test_kernel_cache.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

EPS = np.float32(1e-4)
NEAR = np.float32(1e-6)

# fast-math without "no NaNs / no infinities": the z-buffer is cleared to +inf
# and compares against it; without reassociation results stay deterministic
FASTMATH: set[str] = {"contract", "arcp", "nsz", "afn"}

# The kernels (called from Python) are cached; the helpers they call are compiled into them.
# Neither counts references (nothing here allocates or returns an array: ``_nrt=False``, which
# also keeps array views out of the inner loops' bookkeeping) nor has a C-callable wrapper.
_KERNEL: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": FASTMATH,
    "error_model": "numpy",
    "no_cfunc_wrapper": True,
    "_nrt": False,
}
_HELPER: dict[str, Any] = {**_KERNEL, "cache": False, "no_cpython_wrapper": True}


@numba.njit(**_KERNEL)
def project_points(pts, rot, trans, fx, fy, cx, cy, out, start, stop):  # type: ignore[no-untyped-def]
    """Transform world points ``pts[start:stop]`` of ``(N, 3)`` and project into ``out[:, 0:3] = (u, v, 1/z)``.

    ``1/z`` is 0 for points behind the camera.
    """
    r00, r01, r02 = rot[0, 0], rot[0, 1], rot[0, 2]
    r10, r11, r12 = rot[1, 0], rot[1, 1], rot[1, 2]
    r20, r21, r22 = rot[2, 0], rot[2, 1], rot[2, 2]
    t0, t1, t2 = trans[0], trans[1], trans[2]
    for i in range(start, stop):
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


@numba.njit(**_HELPER)
def _bary(u0, v0, u1, v1, u2, v2, px, py, inv_area):  # type: ignore[no-untyped-def]
    b0 = ((u1 - px) * (v2 - py) - (v1 - py) * (u2 - px)) * inv_area
    b1 = ((u2 - px) * (v0 - py) - (v2 - py) * (u0 - px)) * inv_area
    b2 = ((u0 - px) * (v1 - py) - (v0 - py) * (u1 - px)) * inv_area
    return b0, b1, b2


@numba.njit(**_HELPER)
def _pixel_box(umin, umax, vmin, vmax, width, height):  # type: ignore[no-untyped-def]
    """The pixels whose centres may fall in the box ``[umin, umax] x [vmin, vmax]``, clipped to the image."""
    x0 = math.ceil(umin - 0.5)
    x0 = x0 if x0 > 0 else 0
    x1 = math.floor(umax - 0.5)
    x1 = x1 if x1 < width - 1 else width - 1
    y0 = math.ceil(vmin - 0.5)
    y0 = y0 if y0 > 0 else 0
    y1 = math.floor(vmax - 0.5)
    y1 = y1 if y1 < height - 1 else height - 1
    return x0, x1, y0, y1


@numba.njit(**_HELPER)
def _raster_flat(  # type: ignore[no-untyped-def]
    u0, v0, w0, u1, v1, w1, u2, v2, w2, zscale, prim, r, g, b, zbuf, ibuf, rgb, dep
):
    """A flat-coloured triangle (footprints)."""
    if w0 <= 0.0 or w1 <= 0.0 or w2 <= 0.0:
        return
    height = zbuf.shape[0]
    width = zbuf.shape[1]
    # min(a, b) and max(a, b) written out as numba's builtins compute them (b if b < a else a)
    umin = u2 if u2 < u1 else u1
    umin = umin if umin < u0 else u0
    umax = u2 if u2 > u1 else u1
    umax = umax if umax > u0 else u0
    vmin = v2 if v2 < v1 else v1
    vmin = vmin if vmin < v0 else v0
    vmax = v2 if v2 > v1 else v1
    vmax = vmax if vmax > v0 else v0
    if umax < 0.0 or vmax < 0.0 or umin > width or vmin > height:
        return
    x0, x1, y0, y1 = _pixel_box(umin, umax, vmin, vmax, width, height)
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
            z = zscale * zd
            zb = zbuf[y, x]
            if z < zb or (z == zb and prim < ibuf[y, x]):
                zbuf[y, x] = z
                ibuf[y, x] = prim
                dep[y, x] = zd
                rgb[y, x, 0] = r
                rgb[y, x, 1] = g
                rgb[y, x, 2] = b


@numba.njit(**_HELPER)
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
        zero = np.float32(0.0)
        c0 = (zero if zero > b0 else b0) * w0  # max(b, 0)
        c1 = (zero if zero > b1 else b1) * w1
        c2 = (zero if zero > b2 else b2) * w2
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


@numba.njit(**_HELPER)
def _raster_row(vb_, first, w, masks, mfirst, zscale, pfirst, zbuf, ibuf, rgb, dep):  # type: ignore[no-untyped-def]
    """The ``w - 1`` quads of one grid row: the quad whose top-left vertex is ``ia = first + c``
    has mask bits ``masks[mfirst + c]`` and triangles ``pfirst + 2c`` = (a, b, c), ``pfirst + 2c + 1`` = (b, d, c).
    """
    height = zbuf.shape[0]
    width = zbuf.shape[1]
    for col in range(w - 1):
        m = masks[mfirst + col]
        if m == 0:
            continue
        prim = pfirst + 2 * col
        ia = first + col
        ib = ia + 1
        ic = ia + w
        id_ = ic + 1
        wa, wb, wc, wd = vb_[ia, 2], vb_[ib, 2], vb_[ic, 2], vb_[id_, 2]
        t0 = (m & 1) != 0 and wa > 0.0 and wb > 0.0 and wc > 0.0
        t1 = (m & 2) != 0 and wb > 0.0 and wd > 0.0 and wc > 0.0
        if not (t0 or t1):
            continue
        ua, ub, uc, ud = vb_[ia, 0], vb_[ib, 0], vb_[ic, 0], vb_[id_, 0]
        va, vb, vc, vd = vb_[ia, 1], vb_[ib, 1], vb_[ic, 1], vb_[id_, 1]
        # min(a, b) and max(a, b) written out as numba's builtins compute them (b if b < a else a)
        umin = uc if uc < ub else ub
        umax = uc if uc > ub else ub
        vmin = vc if vc < vb else vb
        vmax = vc if vc > vb else vb
        if t0:
            umin = ua if ua < umin else umin
            umax = ua if ua > umax else umax
            vmin = va if va < vmin else vmin
            vmax = va if va > vmax else vmax
        if t1:
            umin = ud if ud < umin else umin
            umax = ud if ud > umax else umax
            vmin = vd if vd < vmin else vmin
            vmax = vd if vd > vmax else vmax
        if umax < 0.0 or vmax < 0.0 or umin > width or vmin > height:
            continue
        x0, x1, y0, y1 = _pixel_box(umin, umax, vmin, vmax, width, height)
        if x0 > x1 or y0 > y1:
            continue
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
                    _frag(
                        b0, b1, b2, vb_, ib, id_, ic, wb, wd, wc, zscale, prim + 1, zbuf, ibuf, rgb, dep, y, x
                    )


@numba.njit(**_KERNEL)
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
    first,
    stop,
):
    """Rasterize shares ``t`` in ``[first, stop)`` of every grid layer and footprint into buffers ``[t]``.

    Share ``t`` of ``T = zbuf.shape[0]`` is its band of rows of each grid layer
    and its part of the footprints. ``vbuf[i]`` holds the projected
    ``(u, v, 1/z)`` and the colour ``(r, g, b)`` of vertex ``i``;
    ``fbuf[4f + k, 0:3]`` the projected corner ``k`` of footprint ``f`` and
    ``fcol[f]`` its colour.
    """
    nthreads = zbuf.shape[0]
    ngrids = grid_h.shape[0]
    nfp = fbuf.shape[0] // 4
    for t in range(first, stop):
        zb = zbuf[t]
        ib = ibuf[t]
        cb = rgb[t]
        db = dep[t]
        for y in range(zb.shape[0]):  # the other buffers are only read where zbuf is finite
            for x in range(zb.shape[1]):
                zb[y, x] = np.inf
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
                _raster_row(
                    vbuf, voff + r * w, w, masks, moff + r * (w - 1), zs, poff + 2 * r * w, zb, ib, cb, db
                )
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


@numba.njit(**_KERNEL)
def merge(zbuf, ibuf, rgb, dep, out_rgb, out_depth, out_holes, y0, y1):  # type: ignore[no-untyped-def]
    """Rows ``[y0, y1)``: per pixel, the thread buffer with the smallest ``(depth, id)``; holes where none."""
    nthreads = zbuf.shape[0]
    width = zbuf.shape[2]
    for y in range(y0, y1):
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


@numba.njit(**_KERNEL)
def finish(zbuf, out_rgb, out_depth, out_holes, y0, y1):  # type: ignore[no-untyped-def]
    """Rows ``[y0, y1)`` when one share drew straight into the outputs: mark (and blank) the holes."""
    width = zbuf.shape[2]
    for y in range(y0, y1):
        for x in range(width):
            hole = not zbuf[0, y, x] < np.inf
            out_holes[y, x] = hole
            if hole:
                out_depth[y, x] = np.inf
                out_rgb[y, x, 0] = 0.0
                out_rgb[y, x, 1] = 0.0
                out_rgb[y, x, 2] = 0.0
