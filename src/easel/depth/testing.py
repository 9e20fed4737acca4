"""Test helpers: a tiny random-initialized depth model saved in the real Hugging Face format.

Tests (this package's and others', e.g. Ken Burns) use it to run the real
loading and inference path in well under a second, without any download.

Example:
    >>> folder = save_tiny_depth_model(tmp_path / "tiny")        # doctest: +SKIP
    >>> depth = easel.estimate_depth(image, weights=folder)      # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from easel.depth.registry import DA_V2_PREPROCESS

TINY_CONFIG: dict[str, Any] = {
    "model_type": "depth_anything",
    "backbone_config": {
        "model_type": "dinov2",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "image_size": 518,
        "patch_size": 14,
        "out_indices": [1, 2],
        "out_features": ["stage1", "stage2"],
        "reshape_hidden_states": False,
    },
    "reassemble_hidden_size": 32,
    "neck_hidden_sizes": [16, 32],
    "reassemble_factors": [2, 1],
    "fusion_hidden_size": 16,
    "head_hidden_size": 8,
    "initializer_range": 0.5,  # large random weights: a non-constant output
    "depth_estimation_type": "relative",
}
"""``config.json`` values of a ~40 k-parameter Depth Anything (DINOv2 backbone, 2 blocks)."""


def save_tiny_depth_model(folder: str | Path, seed: int = 0, config: dict[str, Any] | None = None) -> Path:
    """Save a tiny random Depth Anything as a Hugging Face folder and return the folder.

    The folder holds ``config.json``, ``model.safetensors`` (written by
    ``save_pretrained``) and a ``preprocessor_config.json`` identical in
    content to Depth Anything V2's.

    Args:
        folder: where to write (created).
        seed: torch seed for the random weights.
        config: ``config.json`` values (default :data:`TINY_CONFIG`).

    Example:
        >>> folder = save_tiny_depth_model(tmp_path / "tiny")  # doctest: +SKIP
        >>> DepthEstimator.load("tiny", weights=folder, device="cpu").predict(photo).shape  # doctest: +SKIP
        (48, 64)
    """
    import torch
    import transformers

    from easel.depth.estimator import quiet_transformers

    cfg = dict(config or TINY_CONFIG)
    model_type = cfg.pop("model_type")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        hf_config = transformers.AutoConfig.for_model(model_type, **cfg)
        torch.manual_seed(seed)
        model = transformers.AutoModelForDepthEstimation.from_config(hf_config).eval()
        model.save_pretrained(out)
    preprocess = {**DA_V2_PREPROCESS, "image_processor_type": "DPTImageProcessor"}
    (out / "preprocessor_config.json").write_text(json.dumps(preprocess, indent=2) + "\n")
    return out
