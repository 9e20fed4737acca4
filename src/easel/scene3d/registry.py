"""Pretrained weights used by :mod:`easel.scene3d` (collected by :mod:`easel.weights`)."""

from __future__ import annotations

from easel.weights import WeightsEntry, WeightsFile

LAMA = WeightsEntry(
    name="big-lama",
    files=(
        WeightsFile(
            filename="big-lama.pt",
            # The TorchScript export released with simple-lama-inpainting v0.1.0 (Apache-2.0):
            # its sha256 is the one Hugging Face publishes for the same file's Git LFS copy
            # (okaris/simple-lama) and the one several independent projects pin with this
            # size. (lama-cleaner's Sanster/models export is a different file, 205,669,692 bytes.)
            url="https://github.com/enesmsahin/simple-lama-inpainting/releases/download/v0.1.0/big-lama.pt",
            sha256="7ba7aa7ac37a4d41fdbbeba3a2af7ead18058552997e3a3cd1a3b2210c9e6b4c",
            size=205_803_670,
            mirrors=("https://huggingface.co/okaris/simple-lama/resolve/main/big-lama.pt",),
        ),
    ),
    licence="Apache-2.0",
    used_by="kenburns --inpaint lama",
    description="LaMa (big-lama) inpainting network, TorchScript export (Suvorov et al. 2022)",
    homepage="https://github.com/advimman/lama",
    fmt="torchscript",
)

ENTRIES: tuple[WeightsEntry, ...] = (LAMA,)
