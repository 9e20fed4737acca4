"""numba kernels of :mod:`easel.scene3d.render` (CPU, run on several threads by the renderer).

Semantics (shared with the torch reference in ``render.py``):

* Primitives are triangles. Grid layer ``g`` of ``H x W`` vertices has quads
  ``q = r * (W - 1) + c``, each split into triangle 0 = (a, b, c) and
  triangle 1 = (b, d, c) with a = (r, c), b = (r, c+1), c = (r+1, c),
  d = (r+1, c+1); triangle ``k`` of the quad whose top-left vertex is
  ``i = r * W + c`` has id ``prim_offset[g] + 2i + k`` and is drawn when bit
  ``k`` of its mask byte is set. Footprint ``f`` (a source pixel's square,
  corners tl, tr, br, bl) has triangles (tl, tr, br) and (tl, br, bl) with
  ids ``fp_offset + 2f + k`` and flat colour; it is drawn as the quad
  a = tr, b = tl, c = br, d = bl, so one routine draws both kinds.
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

Work split (sort-middle): one kernel, :func:`render`, runs in two phases.
Phase 0 projects the vertices a row at a time and keeps each row's vertical
extent on screen; phase 1 draws a **band of output rows**, visiting only the
drawing rows (a grid row of quads, or a run of footprints) whose extent meets
the band and clipping every triangle to it, so each thread owns its rows of
the outputs: no per-thread buffers, nothing to merge, and the result is the
same for any number of bands (the winner per pixel is the smallest
``(depth, id)`` whatever the order). A pixel is skipped before any
interpolation when the z-buffer already holds something nearer than the
quad's nearest vertex, so the layers behind the input (mostly hidden by it)
cost little more than their setup.

Threads: the kernel is a serial loop over a range of work items (projection
rows, or output rows), compiled with ``nogil=True``; ``render.py`` runs the
ranges at once with :func:`easel._parallel.run_chunks` on numba's thread
count. It is compiled once per machine and kept in numba's cache
(``cache=True``); it uses no ``prange``, no NumPy allocation, no
``min``/``max`` builtins, no slice assignment and no helper functions, whose
compilation would make the first run on a machine seconds slower
(``tests/test_kernel_cache.py``, ``benchmarks/cold_start.py``): grid quads and
footprints are one kind of item (four vertex offsets, a mask or none) drawn by
one loop.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

EPS = np.float32(1e-4)
NEAR = np.float32(1e-6)
HIDDEN = np.float32(1.0 - 1e-3)
"""A fragment is at least this fraction of its quad's nearest vertex depth (barycentrics >= -EPS)."""

# fast-math without "no NaNs / no infinities": the z-buffer is cleared to +inf
# and compares against it; without reassociation results stay deterministic
FASTMATH: set[str] = {"contract", "arcp", "nsz", "afn"}

# The kernel is cached; it counts no references (nothing here allocates or returns an array:
# ``_nrt=False``, which also keeps array views out of the inner loops' bookkeeping) and has no
# C-callable wrapper.
_KERNEL: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": FASTMATH,
    "error_model": "numpy",
    "no_cfunc_wrapper": True,
    "_nrt": False,
}


@numba.njit(**_KERNEL)
def render(  # type: ignore[no-untyped-def]
    phase,
    pts,
    row_start,
    rot,
    trans,
    fx,
    fy,
    cx,
    cy,
    vbuf,
    row_vmin,
    row_vmax,
    draw,
    draw_zscale,
    masks,
    zbuf,
    ibuf,
    rgb,
    dep,
    holes,
    start,
    stop,
):
    """Phase 0: project rows ``[start, stop)``; phase 1: draw output rows ``[start, stop)``.

    Phase 0: projection row ``i`` is the points ``pts[row_start[i]:row_start[i+1]]``
    (``(N, 3)`` world points); ``vbuf[j, 0:3] = (u, v, 1/z)`` of point ``j``
    (``1/z`` is 0 behind the camera; ``vbuf[j, 3:6]`` is its colour, set
    once); ``row_vmin[i]``, ``row_vmax[i]``: the row's extent in ``v`` in front
    of the camera (``+inf``, ``-inf`` when nothing is).

    Phase 1: drawing row ``d`` is ``draw[d] = (vrow0, vrow1, first, count,
    step, oa, ob, oc, od, mfirst, pfirst)`` with depth scale
    ``draw_zscale[d]``. Its ``count`` items lie within projection rows
    ``vrow0..vrow1``; item ``j`` is the quad with vertices ``(a, b, c, d) =
    first + step * j + (oa, ob, oc, od)``, triangles (a, b, c) and (b, d, c)
    with ids ``pfirst + 2j`` and ``pfirst + 2j + 1``, drawn as bits 0 and 1
    of ``masks[mfirst + j]`` say, or both in vertex a's flat colour when
    ``mfirst < 0`` (footprints). Writes ``zbuf`` (scaled depth), ``ibuf``
    (winning id), ``rgb``, ``dep`` (depth, ``inf`` in holes) and ``holes``
    in the band only.
    """
    if phase == 0:
        r00, r01, r02 = rot[0, 0], rot[0, 1], rot[0, 2]
        r10, r11, r12 = rot[1, 0], rot[1, 1], rot[1, 2]
        r20, r21, r22 = rot[2, 0], rot[2, 1], rot[2, 2]
        t0, t1, t2 = trans[0], trans[1], trans[2]
        for row in range(start, stop):
            lo = np.float32(np.inf)
            hi = np.float32(-np.inf)
            for i in range(row_start[row], row_start[row + 1]):
                x = pts[i, 0]
                y = pts[i, 1]
                z = pts[i, 2]
                xc = r00 * x + r01 * y + r02 * z + t0
                yc = r10 * x + r11 * y + r12 * z + t1
                zc = r20 * x + r21 * y + r22 * z + t2
                if zc > NEAR:
                    iz = np.float32(1.0) / zc
                    v = fy * yc * iz + cy
                    vbuf[i, 0] = fx * xc * iz + cx
                    vbuf[i, 1] = v
                    vbuf[i, 2] = iz
                    lo = v if v < lo else lo
                    hi = v if v > hi else hi
                else:
                    vbuf[i, 0] = np.float32(0.0)
                    vbuf[i, 1] = np.float32(0.0)
                    vbuf[i, 2] = np.float32(0.0)
            row_vmin[row] = lo
            row_vmax[row] = hi
        return

    height = zbuf.shape[0]
    width = zbuf.shape[1]
    band0 = start
    band1 = stop
    blo = np.float32(band0) - np.float32(0.5)  # the band's pixel centres lie in [band0 + 0.5, band1 - 0.5]
    bhi = np.float32(band1) + np.float32(0.5)
    zero = np.float32(0.0)
    for y in range(band0, band1):  # the other buffers are only read where zbuf is finite
        for x in range(width):
            zbuf[y, x] = np.inf
    for d in range(draw.shape[0]):
        vr0 = draw[d, 0]
        vr1 = draw[d, 1]
        top = row_vmin[vr0]
        bot = row_vmin[vr1]
        rvmin = bot if bot < top else top
        top = row_vmax[vr0]
        bot = row_vmax[vr1]
        rvmax = bot if bot > top else top
        if rvmax < blo or rvmin > bhi:
            continue
        first = draw[d, 2]
        step = draw[d, 4]
        oa, ob, oc, od = draw[d, 5], draw[d, 6], draw[d, 7], draw[d, 8]
        mfirst = draw[d, 9]
        pfirst = draw[d, 10]
        zscale = draw_zscale[d]
        flat = mfirst < 0
        for j in range(draw[d, 3]):
            bits = np.int64(3)
            if not flat:
                bits = np.int64(masks[mfirst + j])
                if bits == 0:
                    continue
            base = first + step * j
            ia = base + oa
            ib = base + ob
            ic = base + oc
            id_ = base + od
            prim = pfirst + 2 * j
            wa, wb, wc, wd = vbuf[ia, 2], vbuf[ib, 2], vbuf[ic, 2], vbuf[id_, 2]
            tri0 = (bits & 1) != 0 and wa > 0.0 and wb > 0.0 and wc > 0.0
            tri1 = (bits & 2) != 0 and wb > 0.0 and wd > 0.0 and wc > 0.0
            if not (tri0 or tri1):
                continue
            ua, ub, uc, ud = vbuf[ia, 0], vbuf[ib, 0], vbuf[ic, 0], vbuf[id_, 0]
            va, vb, vc, vd = vbuf[ia, 1], vbuf[ib, 1], vbuf[ic, 1], vbuf[id_, 1]
            # min(a, b) and max(a, b) written out as numba's builtins compute them (b if b < a else a)
            umin = uc if uc < ub else ub
            umax = uc if uc > ub else ub
            vmin = vc if vc < vb else vb
            vmax = vc if vc > vb else vb
            wmax = wc if wc > wb else wb
            if tri0:
                umin = ua if ua < umin else umin
                umax = ua if ua > umax else umax
                vmin = va if va < vmin else vmin
                vmax = va if va > vmax else vmax
                wmax = wa if wa > wmax else wmax
            if tri1:
                umin = ud if ud < umin else umin
                umax = ud if ud > umax else umax
                vmin = vd if vd < vmin else vmin
                vmax = vd if vd > vmax else vmax
                wmax = wd if wd > wmax else wmax
            if umax < 0.0 or vmax < 0.0 or umin > width or vmin > height:
                continue
            # the pixels whose centres may fall in the box, clipped to the image and the band
            x0 = math.ceil(umin - 0.5)
            x0 = x0 if x0 > 0 else 0
            x1 = math.floor(umax - 0.5)
            x1 = x1 if x1 < width - 1 else width - 1
            y0 = math.ceil(vmin - 0.5)
            y0 = y0 if y0 > band0 else band0
            y1 = math.floor(vmax - 0.5)
            y1 = y1 if y1 < band1 - 1 else band1 - 1
            if x0 > x1 or y0 > y1:
                continue
            area0 = (ub - ua) * (vc - va) - (vb - va) * (uc - ua)
            area1 = (ud - ub) * (vc - vb) - (vd - vb) * (uc - ub)
            if abs(area0) < 1e-12:
                tri0 = False
            if abs(area1) < 1e-12:
                tri1 = False
            if not (tri0 or tri1):
                continue
            inv0 = np.float32(1.0) / area0 if tri0 else np.float32(0.0)
            inv1 = np.float32(1.0) / area1 if tri1 else np.float32(0.0)
            # a convex quad: a pixel clearly on a's side of the diagonal b-c is outside triangle 1
            split = tri0 and tri1 and ((area0 > 0.0) == (area1 > 0.0))
            # no fragment is nearer than this (perspective-correct depth lies between the vertices')
            zlo = zscale / wmax * HIDDEN
            for y in range(y0, y1 + 1):
                py = np.float32(y) + np.float32(0.5)
                yu = numba.uint64(y)  # unsigned indices: no negative-index wraparound checks
                for x in range(x0, x1 + 1):
                    xu = numba.uint64(x)
                    if zbuf[yu, xu] < zlo:
                        continue
                    px = np.float32(x) + np.float32(0.5)
                    test1 = tri1
                    for k in range(2):
                        if k == 0:
                            if not tri0:
                                continue
                            # triangle (a, b, c)
                            b0 = ((ub - px) * (vc - py) - (vb - py) * (uc - px)) * inv0
                            b1 = ((uc - px) * (va - py) - (vc - py) * (ua - px)) * inv0
                            b2 = ((ua - px) * (vb - py) - (va - py) * (ub - px)) * inv0
                            w0, w1, w2 = wa, wb, wc
                            i0, i1, i2 = ia, ib, ic
                            if split and b0 > EPS:
                                test1 = False
                        else:
                            if not test1:
                                continue
                            # triangle (b, d, c)
                            b0 = ((ud - px) * (vc - py) - (vd - py) * (uc - px)) * inv1
                            b1 = ((uc - px) * (vb - py) - (vc - py) * (ub - px)) * inv1
                            b2 = ((ub - px) * (vd - py) - (vb - py) * (ud - px)) * inv1
                            w0, w1, w2 = wb, wd, wc
                            i0, i1, i2 = ib, id_, ic
                        if b0 < -EPS or b1 < -EPS or b2 < -EPS:
                            continue
                        izp = b0 * w0 + b1 * w1 + b2 * w2
                        if izp <= 0.0:
                            continue
                        zd = np.float32(1.0) / izp
                        z = zscale * zd
                        zb = zbuf[yu, xu]
                        if z < zb or (z == zb and prim + k < ibuf[yu, xu]):
                            zbuf[yu, xu] = z
                            ibuf[yu, xu] = prim + k
                            dep[yu, xu] = zd
                            if flat:
                                for ch in range(3):
                                    rgb[yu, xu, ch] = vbuf[ia, 3 + ch]
                            else:
                                c0 = (zero if zero > b0 else b0) * w0  # max(b, 0)
                                c1 = (zero if zero > b1 else b1) * w1
                                c2 = (zero if zero > b2 else b2) * w2
                                total = c0 + c1 + c2
                                if not total > 0.0:
                                    c0 = np.float32(1.0)
                                    total = np.float32(1.0)
                                s = np.float32(1.0) / total
                                for ch in range(3):
                                    rgb[yu, xu, ch] = (
                                        c0 * vbuf[i0, 3 + ch] + c1 * vbuf[i1, 3 + ch] + c2 * vbuf[i2, 3 + ch]
                                    ) * s
    for y in range(band0, band1):
        for x in range(width):
            hole = not zbuf[y, x] < np.inf
            holes[y, x] = hole
            if hole:
                dep[y, x] = np.inf
                rgb[y, x, 0] = 0.0
                rgb[y, x, 1] = 0.0
                rgb[y, x, 2] = 0.0
