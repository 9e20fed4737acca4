"""Cameras shared by every 3D capability: intrinsics, poses, camera paths, nerfstudio camera-path JSON.

Conventions (written once in ``docs/conventions.md``):

* Inside easel cameras are **OpenCV**: x right, y down, z forward; ``K`` in
  pixels; poses are **world-to-camera** 4x4 matrices; the centre of pixel
  ``(row, col)`` is at ``(col + 0.5, row + 0.5)``.
* For single-image 3D the world frame is the **input camera's frame**: the
  input view has the identity pose, and world units are those of the depth map.
* Depth is the distance along the optical axis (the camera-frame ``z``).
* External formats (nerfstudio camera-path JSON, PLY files) use **OpenGL**
  axes (x right, y up, z backward) and camera-to-world poses; the converters
  :func:`opengl_to_opencv_c2w` / :func:`opencv_to_opengl_c2w` sit at the edge.

Modules:
    intrinsics: :class:`Intrinsics`, the EXIF focal length, :func:`resolve_intrinsics`.
    poses: poses, OpenCV/OpenGL converters, :func:`project` / :func:`unproject`,
        :func:`pixel_grid`, :class:`Camera`.
    paths: :class:`CameraPath`, :func:`path_progress` (easing, boomerang).
    nerfstudio: camera-path JSON read/write.
    colmap: COLMAP sparse models (text and binary) read/write.
    interpolate: :func:`smooth_path` through key poses; nerfstudio JSON in a COLMAP world.

Example:
    >>> intr = Intrinsics.from_fov(640, 480, fov_deg=60.0)
    >>> uv, z = project([[0.0, 0.0, 2.0]], intr, pose_from_center([0.0, 0.0, 1.0]))
    >>> uv.tolist(), z.tolist()
    ([[320.0, 240.0]], [1.0])
"""

from __future__ import annotations

from easel.cameras.colmap import (
    ColmapCamera,
    ColmapImage,
    ColmapModel,
    qvec_to_rotmat,
    read_colmap_model,
    rotmat_to_qvec,
    write_colmap_model,
)
from easel.cameras.interpolate import (
    colmap_camera_path_from_dict,
    colmap_camera_path_to_dict,
    read_colmap_camera_path,
    smooth_path,
    write_colmap_camera_path,
)
from easel.cameras.intrinsics import (
    DEFAULT_FOCAL_FRACTION,
    Intrinsics,
    check_fov,
    intrinsics_from_exif,
    resolve_intrinsics,
)
from easel.cameras.nerfstudio import (
    camera_path_from_dict,
    camera_path_to_dict,
    read_camera_path,
    write_camera_path,
)
from easel.cameras.paths import EASINGS, CameraPath, Easing, path_progress
from easel.cameras.poses import (
    GL_FLIP,
    Camera,
    camera_center,
    check_pose,
    invert_pose,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    pixel_grid,
    pose_from_center,
    project,
    unproject,
)
from easel.cameras.trajectories import TRAJECTORIES, Trajectory, trajectory_centers, trajectory_path

__all__ = [
    "DEFAULT_FOCAL_FRACTION",
    "EASINGS",
    "GL_FLIP",
    "Camera",
    "CameraPath",
    "Easing",
    "Intrinsics",
    "camera_center",
    "camera_path_from_dict",
    "camera_path_to_dict",
    "check_fov",
    "check_pose",
    "intrinsics_from_exif",
    "invert_pose",
    "opencv_to_opengl_c2w",
    "opengl_to_opencv_c2w",
    "path_progress",
    "pixel_grid",
    "pose_from_center",
    "project",
    "read_camera_path",
    "resolve_intrinsics",
    "unproject",
    "write_camera_path",
    # COLMAP sparse models
    "ColmapCamera",
    "ColmapImage",
    "ColmapModel",
    "qvec_to_rotmat",
    "read_colmap_model",
    "rotmat_to_qvec",
    "write_colmap_model",
    # smooth paths through key poses; nerfstudio JSON in a COLMAP world
    "colmap_camera_path_from_dict",
    "colmap_camera_path_to_dict",
    "read_colmap_camera_path",
    "smooth_path",
    "write_colmap_camera_path",
    # 3D-photo trajectories (zoom-in, dolly-zoom, swing, circle)
    "TRAJECTORIES",
    "Trajectory",
    "trajectory_centers",
    "trajectory_path",
]
