"""easel: photos and paintings into art and 3D motion.

The public API is imported lazily (:mod:`easel._lazy`), so ``import easel``
stays fast and does not load torch or numba until a function that needs
them is used.

Example:
    >>> import easel
    >>> img = easel.sample_image("astronaut")
    >>> easel.quantize_colors(img, n_colors=8, seed=0).palette.shape
    (8, 3)
"""

from __future__ import annotations

from easel._lazy import lazy_exports

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.io.images": ["read_image", "write_image"],
        "easel.io.video": ["read_frames", "write_video", "VideoWriter", "probe_video"],
        "easel.image": ["as_float_rgb", "to_uint8", "to_tensor", "from_tensor"],
        "easel.devices": ["resolve_device"],
        "easel.errors": ["InputError", "EaselError", "WeightsError"],
        "easel.options": ["OptionError"],
        "easel.io.outputs": ["OutputPlan"],
        "easel.optim": ["optimize", "StepState", "OptimResult", "save_checkpoint", "load_checkpoint"],
        "easel.nets": ["load_encoder"],
        "easel.progress": ["ProgressUpdate"],
        "easel.samples": ["sample_image"],
        "easel.jobs": ["run_tasks", "Task", "TaskFailed"],
        # photo -> artwork
        "easel.art.quantize": ["QuantizeOptions", "quantize_colors"],
        "easel.art.superpixels": ["SuperpixelOptions", "mean_color", "slic_superpixels", "superpixel_mosaic"],
        "easel.style": [
            "stylize",
            "StyleOptions",
            "StyleResult",
            "StyleStep",
            "SnapshotRecorder",
            "load_style_inputs",
            "stylize_grid",
        ],
        "easel.style.video": ["stylize_video", "StyledFrame", "VideoStyleOptions"],
        "easel.dream": ["dream", "dream_zoom", "DreamOptions", "DreamResult", "ZoomOptions", "Dreamer"],
        # one image -> 3D motion
        "easel.depth": ["DepthOptions", "depth_for_image", "estimate_depth"],
        "easel.scene3d.kenburns": ["kenburns", "KenBurnsOptions"],
        "easel.scene3d.clipwriter": ["write_clip"],
        "easel.scene3d.photo3d": ["photo3d", "Photo3D", "Photo3DOptions"],
        "easel.flythrough.fitting": ["fit_flythrough"],
        "easel.flythrough.pipeline": ["fit_photos"],
    },
)
