"""Pretrained weights used by :mod:`easel.scene3d` (collected by :mod:`easel.weights`)."""

from __future__ import annotations

from easel.weights import WeightsEntry, WeightsFile

LAMA = WeightsEntry(
    name="big-lama",
    files=(
        WeightsFile(
            filename="big-lama.pt",
            url="https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt",
            # Not verified: one downstream project publishes sha256
            # 7ba7aa7ac37a4d41fdbbeba3a2af7ead18058552997e3a3cd1a3b2210c9e6b4c for this file (and
            # IOPaint its md5 e3aa4aaa15225a33ec84f9f4bc47e500); until a second source or a
            # download confirms it, the entry is listed but users pass the file themselves.
            sha256=None,
            size=205669692,
        ),
    ),
    licence="Apache-2.0",
    used_by="kenburns --inpaint lama",
    description="LaMa (big-lama) inpainting network, TorchScript export (Suvorov et al. 2022)",
    homepage="https://github.com/advimman/lama",
    fmt="torchscript",
)

ENTRIES: tuple[WeightsEntry, ...] = (LAMA,)
