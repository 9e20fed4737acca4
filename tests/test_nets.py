"""The shared VGG-19 encoder: preprocessing, truncation, weight files, registry, load_encoder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from easel.errors import InputError, WeightsError
from easel.nets.vgg import (
    CONV_INDICES,
    LAYER_TABLE,
    LAYERS,
    VGGEncoder,
    VGGPreprocess,
    guess_preprocessing,
    load_encoder,
    load_vgg19,
    random_vgg19_state_dict,
    save_random_vgg19,
)

TINY = (8, 8, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16)


def test_preprocess_caffe_and_torchvision() -> None:
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 1.0  # pure red
    caffe = VGGPreprocess("caffe")(x)[0, :, 0, 0]
    assert caffe.tolist() == pytest.approx([-103.939, -116.779, 255 - 123.68], abs=1e-3)  # BGR order
    tv = VGGPreprocess("torchvision")(x)[0, :, 0, 0]
    assert tv.tolist() == pytest.approx([(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225], abs=1e-4)


def test_layer_table() -> None:
    assert len(LAYERS) == 16 * 2 + 5 and LAYERS[0] == "conv1_1" and LAYERS[-1] == "pool5"
    assert len(CONV_INDICES) == 16 and CONV_INDICES[:3] == (0, 2, 5)
    relu4_2 = LAYER_TABLE[LAYERS.index("relu4_2")]
    assert (relu4_2.kind, relu4_2.block, relu4_2.width, relu4_2.index) == ("relu", 4, 512, 22)
    assert [layer.name for layer in LAYER_TABLE if layer.kind == "pool"] == [f"pool{b}" for b in range(1, 6)]


def test_encoder_truncates_after_deepest_layer() -> None:
    enc = VGGEncoder(widths=TINY, layers=["relu1_1", "relu3_1"])
    assert enc.names[-1] == "relu3_1"
    assert enc.num_convs == 5
    out = enc(torch.rand(1, 3, 16, 16))
    assert set(out) == {"relu1_1", "relu3_1"}
    assert out["relu3_1"].shape == (1, 16, 4, 4)


@pytest.mark.parametrize("preprocessing", ["caffe", "torchvision"])
def test_load_both_formats_from_files(tmp_path: Path, preprocessing: str) -> None:
    state = random_vgg19_state_dict(TINY, seed=3, classifier=preprocessing == "caffe")
    path = tmp_path / f"vgg-{preprocessing}.pth"
    torch.save(state, path)
    enc = load_vgg19(path, ["relu2_1", "relu4_2"], preprocessing=preprocessing, pooling="avg")
    assert enc.preprocessing == preprocessing
    assert torch.equal(enc.body[0].weight, state["features.0.weight"])
    assert isinstance(enc.body[4], torch.nn.AvgPool2d)
    # a state dict nested under "state_dict" with DataParallel's "module." prefix loads too
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "nested.pth")
    enc2 = load_vgg19(tmp_path / "nested.pth", ["relu1_1"])
    assert torch.equal(enc2.body[0].weight, state["features.0.weight"])


def test_random_init_fan_in_keeps_the_activation_scale() -> None:
    widths = (8, 8, 16, 16) + (32,) * 12
    out_init = random_vgg19_state_dict(widths, seed=0, fan="out")
    in_init = random_vgg19_state_dict(widths, seed=0, fan="in")
    first = "features.0.weight"  # 3 -> 8 channels: fan-in 27, fan-out 72
    ratio = float(in_init[first].std() / out_init[first].std())
    assert ratio == pytest.approx((72 / 27) ** 0.5, rel=1e-5)
    # layers whose width does not change are the same either way
    same = f"features.{CONV_INDICES[1]}.weight"
    assert torch.equal(in_init[same], out_init[same])
    with pytest.raises(ValueError, match="fan"):
        random_vgg19_state_dict(widths, fan="sideways")


def test_bad_weight_files(tmp_path: Path) -> None:
    state = random_vgg19_state_dict(TINY)
    state[f"features.{CONV_INDICES[2]}.weight"] = torch.zeros(12, 5, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(WeightsError, match="wrong shape"):
        load_vgg19(tmp_path / "shape.pth", ["relu4_2"])
    good = tmp_path / "good.pth"
    save_random_vgg19(good, widths=TINY)
    data = good.read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_vgg19(tmp_path / "trunc.pth", ["relu4_2"])
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a VGG-19"):
        load_vgg19(tmp_path / "other.pth", ["relu1_1"])
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(WeightsError):
        load_vgg19(tmp_path / "junk.pth", ["relu1_1"])


def test_guess_preprocessing_from_file_names() -> None:
    assert guess_preprocessing("x/vgg19-dcbb9e9d.pth") == "torchvision"
    assert guess_preprocessing("my-torchvision-vgg.pth") == "torchvision"
    assert guess_preprocessing("vgg19-d01eb7cb.pth", default="torchvision") == "caffe"
    assert guess_preprocessing("mystery.pth", default="torchvision") == "torchvision"


def test_load_encoder_resolves_model_file_and_preprocessing(tmp_path: Path) -> None:
    path = save_random_vgg19(tmp_path / "vgg19-dcbb9e9d.pth", widths=TINY, seed=1)
    enc = load_encoder("vgg19-caffe", path, layers=["relu1_1", "relu2_1"], pooling="avg")
    assert enc.preprocessing == "torchvision"  # from the file's name, over the model's default
    assert enc.layers == ("relu1_1", "relu2_1") and enc.pooling == "avg"
    assert set(enc(torch.rand(1, 3, 8, 8))) == {"relu1_1", "relu2_1"}
    plain = save_random_vgg19(tmp_path / "mine.pth", widths=TINY)
    assert load_encoder("vgg19-torchvision", plain).preprocessing == "torchvision"  # the model's
    assert load_encoder("vgg19-torchvision", plain, preprocessing="caffe").preprocessing == "caffe"
    with pytest.raises(InputError, match="unknown encoder"):
        load_encoder("resnet50", plain)
    with pytest.raises(InputError, match="preprocessing"):
        load_encoder("vgg19-caffe", plain, preprocessing="bgr")


def test_load_encoder_without_cached_weights_says_how_to_get_them(tmp_easel_home: Path) -> None:
    with pytest.raises(WeightsError, match="easel weights download vgg19-caffe"):
        load_encoder("vgg19-caffe")


def test_registry_entries() -> None:
    from easel import weights
    from easel.nets import registry

    assert [e.name for e in registry.ENTRIES] == ["vgg19-caffe", "vgg19-torchvision"]
    caffe = weights.get_entry("vgg19-caffe")  # collected by easel.weights
    tv = weights.get_entry("vgg19-torchvision")
    assert caffe.files[0].filename == "vgg19-d01eb7cb.pth"
    # full hashes: the Caffe file's name is not a sha256 prefix, torchvision's is
    assert caffe.files[0].sha256 is not None and len(caffe.files[0].sha256) == 64
    assert not caffe.files[0].sha256.startswith("d01eb7cb") and caffe.files[0].mirrors
    assert tv.files[0].sha256 is not None and tv.files[0].sha256.startswith("dcbb9e9d")
    assert len(tv.files[0].sha256) == 64 and tv.files[0].size == 574_673_361
    assert caffe.verified and tv.verified
    assert tv.files[0].url.endswith("vgg19-dcbb9e9d.pth") and tv.licence == "BSD-3-Clause"
    assert caffe.extra["preprocessing"] == "caffe" and tv.extra["preprocessing"] == "torchvision"


def test_registry_and_layer_table_load_without_torch() -> None:
    code = "import easel.nets, easel.nets.registry, easel.nets.vgg_layers, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
