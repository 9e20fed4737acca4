"""GoogLeNet / Inception-v1 for ``easel dream``: torchvision's key layout, loading, the registry entry, a dream.

The key list is checked against what pytorch/vision's ``torchvision/models/googlenet.py``
defines (see :mod:`easel.nets.googlenet`); a random-initialized network saved in
that format stands in for ``googlenet-1378be20.pth``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from easel.dream import Dreamer, DreamOptions
from easel.errors import InputError, WeightsError
from easel.nets.googlenet import GoogLeNet, GoogLeNetEncoder, load_googlenet, save_random_googlenet
from easel.options import OptionError

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


@pytest.fixture(scope="module")
def googlenet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_googlenet(tmp_path_factory.mktemp("googlenet") / "googlenet-random.pth", seed=0)


def test_the_state_dict_has_torchvisions_keys_and_shapes() -> None:
    state = GoogLeNet().state_dict()
    # 3 stem convs + 9 inceptions x 6 convs, each conv + batch norm = 6 tensors; 2 aux heads of 10; fc 2
    assert len(state) == 3 * 6 + 9 * 6 * 6 + 2 * 10 + 2 == 364
    expected = {
        "conv1.conv.weight": (64, 3, 7, 7),
        "conv1.bn.running_var": (64,),
        "conv3.conv.weight": (192, 64, 3, 3),
        "inception3a.branch1.conv.weight": (64, 192, 1, 1),
        "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),  # torchvision's 3x3 "5x5" (vision#906)
        "inception4e.branch4.1.conv.weight": (128, 528, 1, 1),
        "inception5b.branch3.1.bn.bias": (128,),
        "aux1.conv.conv.weight": (128, 512, 1, 1),
        "aux2.fc1.weight": (1024, 2048),
        "aux2.fc2.bias": (1000,),
        "fc.weight": (1000, 1024),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.endswith("conv.bias") for k in state)  # torchvision's convolutions have no bias
    assert list(state)[-2:] == ["fc.weight", "fc.bias"]


def test_the_encoder_stops_at_the_deepest_layer_and_keeps_the_sizes() -> None:
    enc = GoogLeNetEncoder(layers=["conv3", "inception4c"])
    assert enc.names[-1] == "inception4c" and not hasattr(enc, "inception4d")
    feats = enc(torch.rand(1, 3, 70, 90))
    assert tuple(feats["conv3"].shape) == (1, 192, 17, 22)  # 70x90 -> conv1 35x45 -> maxpool1 (ceil) 17x22
    assert tuple(feats["inception4c"].shape) == (1, 512, 4, 5)
    assert set(enc.state_dict()) <= set(GoogLeNet().state_dict())
    with pytest.raises(InputError, match="unknown GoogLeNet layer 'relu4_2'"):
        GoogLeNetEncoder(layers=["relu4_2"])


def test_a_torchvision_format_file_loads(googlenet: Path) -> None:
    state = torch.load(googlenet, weights_only=True)
    assert len(state) == 364
    enc = load_googlenet(googlenet, layers=["inception3b"])
    for key, tensor in enc.state_dict().items():
        assert torch.equal(tensor, state[key]), key
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(
        enc.use_channels_last(True)(x)["inception3b"], enc.use_channels_last(False)(x)["inception3b"]
    )


def test_a_file_that_is_not_a_googlenet_is_named(googlenet: Path, tmp_path: Path) -> None:
    full = torch.load(googlenet, weights_only=True)
    state = {k: v for k, v in full.items() if k.startswith(("conv", "inception3a"))}  # small files
    del state["inception3a.branch2.0.conv.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(
        WeightsError, match=r"missing\.pth: not a torchvision GoogLeNet.*inception3a\.branch2\.0"
    ):
        load_googlenet(tmp_path / "missing.pth", layers=["inception3a"])
    state["inception3a.branch2.0.conv.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(WeightsError, match="expected"):
        load_googlenet(tmp_path / "shape.pth", layers=["inception3a"])
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(WeightsError, match="junk.pth"):
        load_googlenet(tmp_path / "junk.pth")
    del state["conv1.bn.num_batches_tracked"]  # older files lack the training counter: fine
    state["inception3a.branch2.0.conv.weight"] = full["inception3a.branch2.0.conv.weight"]
    torch.save(state, tmp_path / "old.pth")
    assert load_googlenet(tmp_path / "old.pth", layers=["inception3a"]).names[-1] == "inception3a"


def test_the_registry_entry_carries_torchvisions_published_checksum_prefix() -> None:
    from easel import weights

    entry = weights.get_entry("googlenet-torchvision")
    (file,) = entry.files
    assert file.filename == "googlenet-1378be20.pth" and file.sha256 == "1378be20" and file.verified
    assert file.url == "https://download.pytorch.org/models/googlenet-1378be20.pth"
    assert entry.used_by == "dream"


def test_googlenet_layer_names_are_checked_with_suggestions() -> None:
    with pytest.raises(OptionError, match=r"did you mean inception4e or inception4d or inception4c\?") as err:
        DreamOptions(model="googlenet-torchvision", layers=("inception4x",)).validate()
    assert err.value.field == "layers"
    with pytest.raises(OptionError, match="unknown GoogLeNet layer 'relu4_2'"):
        DreamOptions(model="googlenet-torchvision", layers=("relu4_2",)).validate()
    assert DreamOptions(model="googlenet-torchvision").validate().layer_weights() == {"inception4c": 1.0}
    assert DreamOptions().layer_weights() == {"relu4_2": 1.0}


def test_a_googlenet_dream_raises_the_activation_energy(googlenet: Path) -> None:
    rng = np.random.default_rng(0)
    image = (0.4 + 0.2 * rng.random((64, 80, 3))).astype(np.float32)
    options = DreamOptions(
        model="googlenet-torchvision",
        weights=googlenet,
        layers=("inception3b",),
        octaves=1,
        iterations=6,
        jitter=0,
        precision="fp32",
        device="cpu",
    )
    dreamer = Dreamer(options)
    assert dreamer.widths == {"inception3b": 480}
    result = dreamer.run(image)
    energies = [h["energy"] for h in result.history]
    assert result.status == "finished" and result.image.shape == image.shape
    assert (
        all(b > a for a, b in zip(energies[:-1], energies[1:], strict=True))
        and energies[-1] > 1.05 * energies[0]
    ), energies
    with pytest.raises(OptionError, match="inception3b has 480 channels"):
        Dreamer(DreamOptions(**{**options.__dict__, "channels": (480,)}), encoder=dreamer.encoder)
