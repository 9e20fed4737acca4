"""Depth models easel knows by name, and their weights-registry entries.

Each model is a Hugging Face ``transformers`` checkpoint pinned to a commit.
A registry entry is the checkpoint's folder (``config.json``,
``model.safetensors``, ``preprocessor_config.json``), downloaded from
``https://huggingface.co/<repo>/resolve/<commit>/<file>`` and checked by sha256;
:func:`easel.weights.resolve` returns the folder, which is loaded with
``AutoModelForDepthEstimation.from_pretrained`` (local files only). The
architecture of each model is also written down below, so a bare
``model.safetensors`` (``--weights model.safetensors``) loads too.

Provenance of the pinned values:

- Depth-Anything-V2-Small-hf, Apache-2.0. Commit 5426e4f0f36572d16453bbda7a8389317b1bef99
  (``main``, "Change organization to depth-anything (#1)"; the model files were
  added in 32d03942121d29edb49de4e2cc15831558af3f36 and are unchanged since).
  ``model.safetensors``: sha256 3152477c...16b70 as published by Hugging Face
  (its Git LFS details), 99,173,660 bytes. ``config.json`` (950 bytes) and
  ``preprocessor_config.json`` (775 bytes): the byte sizes are those Hugging Face
  lists; their sha256 values are not published by Hugging Face (they are plain Git
  files) and come from a public project's verified-download manifest, whose sizes
  and model hash agree with Hugging Face's. A wrong JSON hash would only make
  ``easel weights download`` refuse the file, never load a different one.
- Depth-Anything-V2-Base-hf, CC-BY-NC-4.0, commit b1958afc87fb45a9e3746cb387596094de553ed8
  (``main``). The sha256 of its ``model.safetensors`` (390 MB) was not found:
  a registry entry that is listed with its licence but not downloadable by easel;
  pass a local copy with ``--weights``.
- Depth-Anything-V2-Large-hf, CC-BY-NC-4.0, commit 7581137eff8d4e94f6e796d3baea0e9fa79b22d2
  (as pinned by two independent public projects). sha256 of the 1.34 GB
  ``model.safetensors`` not found: listed, ``--weights`` only.
- Intel/dpt-large (DPT-Large, MiDaS 3.0 ViT-L/16), Apache-2.0. Commit
  bc15f29aa3a80d532f2ed650b5e16ac48d8958f9 (``main``, "Update README.md (#10)");
  its ``model.safetensors`` was added in cc27b92e869fc79f52a0241addbbcd1579b66b11
  ("Adding `safetensors` variant of this model (#11)") and is unchanged since:
  sha256 c173e7fd...9ce8 as published by Hugging Face (Git LFS details), 1.37 GB.
  The registry entry is that single file; the architecture below is the published
  ``config.json`` (942 bytes, unchanged since "Add model") and the preprocessing its
  ``preprocessor_config.json`` (384 x 384 without keeping the aspect, bilinear,
  mean/std 0.5).
- Intel/dpt-hybrid-midas (DPT/MiDaS 3.0 hybrid), Apache-2.0. Its ``model.safetensors``
  (sha256 9599793d...29c5, 490 MB) exists only on the ``refs/pr/5`` branch (commit
  c20e47f, full hash not found), and its BiT-hybrid configuration is not written
  down here: ``--weights`` (a local Hugging Face folder) only; ``dpt-large`` is the
  registered DPT/MiDaS model.

The architecture values below are those of the published ``config.json`` files
(DINOv2 backbone with features from blocks 3/6/9/12 for Small and Base,
5/12/18/24 for Large) and of Depth Anything V2's ``preprocessor_config.json``
(518 px, aspect kept, multiple of 14, bicubic, ImageNet mean/std).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from easel.weights import WeightsEntry, WeightsFile

DEFAULT_MODEL = "depth-anything-v2-small"

_IMAGENET_MEAN = [0.485, 0.456, 0.406]
_IMAGENET_STD = [0.229, 0.224, 0.225]

DA_V2_PREPROCESS: dict[str, Any] = {
    "do_resize": True,
    "size": {"height": 518, "width": 518},
    "keep_aspect_ratio": True,
    "ensure_multiple_of": 14,
    "resample": 3,  # PIL bicubic
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": _IMAGENET_MEAN,
    "image_std": _IMAGENET_STD,
    "do_pad": False,
}
DPT_PREPROCESS: dict[str, Any] = {
    "do_resize": True,
    "size": {"height": 384, "width": 384},
    "keep_aspect_ratio": False,
    "ensure_multiple_of": 1,
    "resample": 2,  # PIL bilinear
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "do_pad": False,
}


def da_v2_config(
    hidden: int, heads: int, layers: int, out: list[int], neck: list[int], fusion: int
) -> dict[str, Any]:
    """A Depth Anything V2 ``config.json`` (DINOv2 backbone) of the given widths.

    Args:
        hidden: backbone width.
        heads: attention heads.
        layers: transformer blocks.
        out: the backbone blocks the neck reads (1-based: stage 0 is the embedding).
        neck: the neck's four widths.
        fusion: the fusion blocks' width.

    Example:
        >>> da_v2_config(32, 2, 4, [1, 2, 3, 4], [8, 16, 32, 32], 16)["model_type"]
        'depth_anything'
    """
    return {
        "model_type": "depth_anything",
        "backbone_config": {
            "model_type": "dinov2",
            "hidden_size": hidden,
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "mlp_ratio": 4,
            "image_size": 518,
            "patch_size": 14,
            "out_indices": out,
            "out_features": [f"stage{i}" for i in out],
            "reshape_hidden_states": False,
        },
        "reassemble_hidden_size": hidden,
        "reassemble_factors": [4, 2, 1, 0.5],
        "neck_hidden_sizes": neck,
        "fusion_hidden_size": fusion,
        "head_in_index": -1,
        "head_hidden_size": 32,
        "patch_size": 14,
        "depth_estimation_type": "relative",
    }


def dpt_vit_config(
    hidden: int, heads: int, layers: int, out: list[int], neck: list[int], fusion: int
) -> dict[str, Any]:
    """A ViT-backed DPT (``is_hybrid`` false) ``config.json`` of the given widths.

    The arguments are those of :func:`da_v2_config`, except that ``out``
    counts the transformer blocks from 0, as DPT does.

    Example:
        >>> dpt_vit_config(32, 2, 4, [0, 1, 2, 3], [8, 16, 32, 32], 16)["intermediate_size"]
        128
    """
    return {
        "model_type": "dpt",
        "architectures": ["DPTForDepthEstimation"],
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "intermediate_size": 4 * hidden,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "layer_norm_eps": 1e-12,
        "image_size": 384,
        "patch_size": 16,
        "num_channels": 3,
        "qkv_bias": True,
        "is_hybrid": False,
        "backbone_out_indices": out,
        "readout_type": "project",
        "reassemble_factors": [4, 2, 1, 0.5],
        "neck_hidden_sizes": neck,
        "fusion_hidden_size": fusion,
        "head_in_index": -1,
        "use_batch_norm_in_fusion_residual": False,
        "use_auxiliary_head": True,
        "auxiliary_loss_weight": 0.4,
        "semantic_loss_ignore_index": 255,
        "semantic_classifier_dropout": 0.1,
    }


@dataclass(frozen=True)
class DepthModelSpec:
    """A depth model easel knows by name.

    Attributes:
        name: the ``--model`` name.
        repo: Hugging Face repository.
        revision: pinned commit (``None`` when none could be verified).
        licence: licence of the weights.
        description: one line for humans.
        config: the ``config.json`` contents used with a bare ``.safetensors``
            file (``None``: a full HF folder is needed).
        preprocess: ``preprocessor_config.json`` values used when the folder has none.
        sha256: LFS sha256 of ``model.safetensors`` alone (a single-file entry).
        size: its size in bytes, when known.
        files: ``(filename, sha256, size)`` of a whole Hugging Face folder entry;
            takes precedence over ``sha256``. Neither: not in the weights registry.
        output: what the network predicts: ``"disparity"`` (relative) or ``"depth"`` (metric).

    Example:
        >>> spec = MODELS["depth-anything-v2-small"]
        >>> spec.repo, spec.output
        ('depth-anything/Depth-Anything-V2-Small-hf', 'disparity')
    """

    name: str
    repo: str
    revision: str | None
    licence: str
    description: str
    config: dict[str, Any] | None = None
    preprocess: dict[str, Any] = field(default_factory=lambda: dict(DA_V2_PREPROCESS))
    sha256: str | None = None
    size: int | None = None
    files: tuple[tuple[str, str, int | None], ...] = ()
    output: str = "disparity"

    @property
    def homepage(self) -> str:
        """The Hugging Face page of :attr:`repo`."""
        return f"https://huggingface.co/{self.repo}"

    def file_url(self, filename: str) -> str | None:
        """The pinned download URL of ``filename`` (``None`` without a pinned revision)."""
        if self.revision is None:
            return None
        return f"https://huggingface.co/{self.repo}/resolve/{self.revision}/{filename}"

    @property
    def url(self) -> str | None:
        """The pinned URL of ``model.safetensors`` (``None`` without a pinned revision)."""
        return self.file_url("model.safetensors")

    def weights_entry(self) -> WeightsEntry | None:
        """This model's entry in the weights registry (:mod:`easel.weights`), or ``None``.

        ``None`` without a pinned revision, or with neither ``files`` nor a
        ``config`` for a bare ``model.safetensors``. Without a verified sha256
        the entry is listed (name, licence, URL) but not downloadable: users
        fetch the file themselves and pass ``--weights``.

        Example:
            >>> MODELS["depth-anything-v2-small"].weights_entry().used_by
            'depth, kenburns'
        """
        if self.revision is None:
            return None
        if self.files:
            files = tuple(
                WeightsFile(name, self.file_url(name) or "", sha, size) for name, sha, size in self.files
            )
            fmt = "hf-transformers"
        elif self.config is not None:
            files = (WeightsFile("model.safetensors", self.url or "", self.sha256, self.size),)
            fmt = "safetensors"
        else:
            return None
        return WeightsEntry(
            name=self.name,
            files=files,
            licence=self.licence,
            used_by="depth, kenburns",
            description=self.description,
            homepage=self.homepage,
            fmt=fmt,
            extra={"repo": self.repo, "revision": self.revision},
        )


MODELS: dict[str, DepthModelSpec] = {
    spec.name: spec
    for spec in (
        DepthModelSpec(
            name="depth-anything-v2-small",
            repo="depth-anything/Depth-Anything-V2-Small-hf",
            revision="5426e4f0f36572d16453bbda7a8389317b1bef99",
            licence="Apache-2.0",
            description="Depth Anything V2 Small (ViT-S, 24.8 M parameters): relative disparity, the default",
            config=da_v2_config(384, 6, 12, [3, 6, 9, 12], [48, 96, 192, 384], 64),
            files=(
                ("config.json", "c56698d3643dde1f83ea2212759e6b31a22b8f827246a36dd007ee8a22b3ff75", 950),
                (
                    "model.safetensors",
                    "3152477ce0d8d6978d76b995120de97cb5b928701fd0f817769f59e249a16b70",
                    99_173_660,
                ),
                (
                    "preprocessor_config.json",
                    "d41175c0d889477ca8fc67191e540faef14baf6275157b3fdecf78469e6bbf84",
                    775,
                ),
            ),
        ),
        DepthModelSpec(
            name="depth-anything-v2-base",
            repo="depth-anything/Depth-Anything-V2-Base-hf",
            revision="b1958afc87fb45a9e3746cb387596094de553ed8",
            licence="CC-BY-NC-4.0",
            description="Depth Anything V2 Base (ViT-B, 97.5 M parameters), non-commercial licence",
            config=da_v2_config(768, 12, 12, [3, 6, 9, 12], [96, 192, 384, 768], 128),
        ),
        DepthModelSpec(
            name="depth-anything-v2-large",
            repo="depth-anything/Depth-Anything-V2-Large-hf",
            revision="7581137eff8d4e94f6e796d3baea0e9fa79b22d2",
            licence="CC-BY-NC-4.0",
            description="Depth Anything V2 Large (ViT-L, 335 M parameters), non-commercial licence",
            config=da_v2_config(1024, 16, 24, [5, 12, 18, 24], [256, 512, 1024, 1024], 256),
        ),
        DepthModelSpec(
            name="dpt-large",
            repo="Intel/dpt-large",
            revision="bc15f29aa3a80d532f2ed650b5e16ac48d8958f9",
            licence="Apache-2.0",
            description="DPT-Large (MiDaS 3.0, ViT-L/16, 343 M parameters): relative disparity",
            config=dpt_vit_config(1024, 16, 24, [5, 11, 17, 23], [256, 512, 1024, 1024], 256),
            preprocess=dict(DPT_PREPROCESS),
            sha256="c173e7fd575c4d6c2164621063fed3a0e7e2eb6adbfb7c1845b364bc0fed9ce8",
        ),
        DepthModelSpec(
            name="dpt-hybrid-midas",
            repo="Intel/dpt-hybrid-midas",
            revision=None,
            licence="Apache-2.0",
            description="DPT-Hybrid (MiDaS 3.0, ViT-B + ResNet-50): relative disparity",
            config=None,
            preprocess=dict(DPT_PREPROCESS),
        ),
    )
}


ENTRIES: tuple[WeightsEntry, ...] = tuple(
    e for e in (s.weights_entry() for s in MODELS.values()) if e is not None
)
"""Weights-registry entries: every model with a pinned revision (downloadable when its sha256 is verified)."""
