"""A smooth video from a handful of photos (ADOP-style): SfM, point rendering, neural renderer, tonemapper.

Data side: :mod:`easel.flythrough.sfm` (structure from motion with pycolmap),
:mod:`easel.flythrough.synthetic` (multi-view scenes with exact cameras, for
tests and the benchmark), :mod:`easel.flythrough.alignment` (similarity
alignment and pose errors against a reference). COLMAP models and camera
paths live in the camera layer (:mod:`easel.cameras.colmap`,
:mod:`easel.cameras.interpolate`). Names are imported on first use.

Example:
    >>> from easel.flythrough import write_synthetic_scene  # doctest: +SKIP
    >>> scene = write_synthetic_scene("synthetic/", num_views=24)  # doctest: +SKIP
"""

from __future__ import annotations

from easel._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.flythrough.synthetic": ["SyntheticScene", "write_synthetic_scene", "render_view", "arc_poses"],
        "easel.flythrough.sfm": ["SfmOptions", "SfmResult", "run_sfm"],
        "easel.flythrough.fitting": ["fit", "fit_flythrough", "FitResult"],
        "easel.flythrough.pipeline": ["fit_photos", "render_video", "PhotoFitResult", "VideoResult"],
        "easel.flythrough.options": ["FitOptions", "RenderOptions"],
        "easel.flythrough.scene": ["Scene", "View", "load_views", "scene_camera_path"],
        "easel.flythrough.alignment": [
            "PoseErrors",
            "Similarity",
            "align_poses",
            "align_similarity",
            "pose_errors",
        ],
    },
)
