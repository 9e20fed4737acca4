"""Neural style transfer (Gatys et al.): options, losses, the coarse-to-fine run, grids.

* :mod:`easel.style.options` -- :class:`StyleOptions`, plain data (no torch), declared once for API and CLI;
* :mod:`easel.style.losses` -- content, Gram style and total-variation losses;
* :mod:`easel.style.transfer` -- :func:`stylize`: encoder + losses + :func:`easel.optim.optimize`, coarse to fine;
* :mod:`easel.style.tiling` -- tiled optimization for outputs beyond memory;
* :mod:`easel.style.color` -- colour preservation;
* :mod:`easel.style.grid` -- many contents x many styles, weight sweeps, contact sheets;
* :mod:`easel.style.inputs` -- style files and folders, masks, transparency, the memory check;
* :mod:`easel.style.recording` -- step images and animation frames (an ``on_step`` hook);
* :mod:`easel.style.video` -- :func:`stylize_video`: frame to frame without flicker (Ruder et al.);
* :mod:`easel.style.flow` -- optical flow, warping, the occlusion mask;
* :mod:`easel.style.frame_store` -- the resumable folder of finished frames.

The encoder is :mod:`easel.nets.vgg`, the loop :mod:`easel.optim`, the scales
:mod:`easel.pyramid`. Names are imported on first use: ``StyleOptions`` (and
the CLI's options built from it) load without torch.

Example:
    >>> from easel.style import StyleOptions, stylize  # doctest: +SKIP
    >>> art = stylize(photo, [(starry, 1.0)], StyleOptions(size=512)).image  # doctest: +SKIP
"""

from __future__ import annotations

from easel._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "easel.style.options": ["StyleOptions"],
        "easel.style.transfer": [
            "Style",
            "StyleResult",
            "StyleStep",
            "Stylizer",
            "estimate_memory",
            "stylize",
        ],
        "easel.style.inputs": [
            "MemoryLimitError",
            "StyleInputs",
            "check_memory",
            "composite_over_white",
            "expand_style_paths",
            "load_style_inputs",
            "parse_style_spec",
        ],
        "easel.style.recording": ["SnapshotRecorder"],
        "easel.style.video": ["StyledFrame", "stylize_video"],
        "easel.style.video_options": ["VideoStyleOptions"],
        "easel.style.flow": ["FlowLink", "flow_link", "optical_flow", "warp", "warping_error"],
        "easel.style.frame_store": ["FrameStore"],
        "easel.style.grid": [
            "GridPlan",
            "GridReport",
            "plan_grid",
            "render_grid",
            "stylize_grid",
            "sweep",
            "sweep_sheet",
        ],
    },
    submodules=[
        "color",
        "flow",
        "frame_store",
        "grid",
        "inputs",
        "losses",
        "options",
        "recording",
        "tiling",
        "transfer",
        "video",
        "video_options",
    ],
)
