"""One image to 3D motion: cameras, a fast z-buffer renderer, hole filling, the 3D Ken Burns effect.

Conventions (see ``docs/conventions.md``): inside, cameras are OpenCV (``K`` in
pixels, world-to-camera 4x4, x right, y down, z forward, pixel centres at
+0.5); the world frame is the input camera's frame (the input view has the
identity pose); depth is the distance along the optical axis. External
formats (nerfstudio camera-path JSON, PLY) use OpenGL axes, converted at the
edges by :mod:`easel.scene3d.cameras`.

Modules:
    cameras: :class:`~easel.scene3d.cameras.Intrinsics`, poses, camera paths,
        autozoom, nerfstudio camera-path JSON.
    render: :class:`~easel.scene3d.render.GridLayer` (an RGB-D image as a mesh
        that breaks at depth discontinuities) and :class:`~easel.scene3d.render.Renderer`
        (numba CPU kernel, torch reference / CUDA path).
    inpaint: hole filling behind one interface (OpenCV Telea/NS, LaMa).
    kenburns: :func:`~easel.scene3d.kenburns.kenburns` and its options.
    synthetic: ray-cast RGB-D scenes with exact ground truth.
    ply: coloured point-cloud export.
"""

from __future__ import annotations
