"""One image to 3D motion: a fast z-buffer renderer, hole filling, the 3D Ken Burns effect.

Conventions (see ``docs/conventions.md``): inside, cameras are OpenCV (``K`` in
pixels, world-to-camera 4x4, x right, y down, z forward, pixel centres at
+0.5); the world frame is the input camera's frame (the input view has the
identity pose); depth is the distance along the optical axis. External
formats (nerfstudio camera-path JSON, PLY) use OpenGL axes, converted at the
edges by :mod:`easel.cameras`, the camera layer shared with other capabilities.

Modules:
    autozoom: the Ken Burns path (zoom towards the subject, shift), its focus
        depth and the autozoom search.
    render: :class:`~easel.scene3d.render.GridLayer` (an RGB-D image as a mesh
        that breaks at depth discontinuities) and :class:`~easel.scene3d.render.Renderer`
        (numba CPU kernel, torch reference / CUDA path).
    inpaint: hole filling behind one interface (OpenCV Telea/NS, LaMa).
    kenburns: :func:`~easel.scene3d.kenburns.kenburns`, its options and preflight checks.
    clipwriter: :func:`~easel.scene3d.clipwriter.write_clip` (the clip, its point
        cloud and camera path, with progress and Ctrl-C keeping the frames so far).
    synthetic: ray-cast RGB-D scenes with exact ground truth.
    depth_edges: depth edges of an RGB-D image (smoothing, cut links, linked boundaries).
    ldi: the layered depth image, with the background inpainted behind every occluding edge.
    mesh: the layers as one triangle mesh (trimesh; PLY and GLB files).
    photo3d: :func:`~easel.scene3d.photo3d.photo3d` (3D photos: LDI, mesh, trajectories).
"""

from __future__ import annotations
