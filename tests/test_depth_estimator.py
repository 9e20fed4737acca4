"""The transformers backend, through the real loading path, with tiny random-initialized models."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers  # the [depth] extra, also in [dev]: when it is missing these tests fail, never skip

from easel import weights
from easel.depth import registry
from easel.depth.estimator import DepthEstimator, Preprocess, clear_cache, estimate_depth, get_estimator
from easel.depth.testing import TINY_CONFIG, save_tiny_depth_model
from easel.errors import InputError, WeightsError


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    return save_tiny_depth_model(folder, seed=seed)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-depth")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def photo(height: int = 60, width: int = 80) -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([xx / width, yy / height, rng.random((height, width), dtype=np.float32)], axis=2)
    img[15:40, 20:50] = (0.9, 0.1, 0.1)
    return img.astype(np.float32)


def test_estimate_depth_from_hf_folder(tiny_folder: Path):
    img = photo()
    depth = estimate_depth(img, weights=tiny_folder, device="cpu")
    assert depth.shape == (60, 80) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth > 0).all()
    assert depth.min() == pytest.approx(1.0) and depth.max() == pytest.approx(10.0)
    again = estimate_depth(img, weights=tiny_folder, device="cpu")
    np.testing.assert_array_equal(depth, again)  # deterministic
    ranged = estimate_depth(img, weights=tiny_folder, device="cpu", depth_range=(3.0, 7.0), refine=False)
    assert ranged.min() == pytest.approx(3.0) and ranged.max() == pytest.approx(7.0)


def test_predict_matches_a_direct_transformers_forward(tiny_folder: Path):
    img = photo(45, 70)
    est = DepthEstimator.load(weights=tiny_folder, device="cpu")
    assert est.output == "disparity" and est.device.type == "cpu"
    raw = est.predict(img)
    model = transformers.AutoModelForDepthEstimation.from_pretrained(
        tiny_folder, local_files_only=True
    ).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(tiny_folder, local_files_only=True)
    inputs = processor(images=(img * 255).round().astype(np.uint8), return_tensors="pt")
    with torch.no_grad():
        pred = model(**inputs).predicted_depth[:, None]
    ref = torch.nn.functional.interpolate(pred, size=(45, 70), mode="bilinear", align_corners=False)[
        0, 0
    ].numpy()
    np.testing.assert_allclose(raw, ref, rtol=1e-4, atol=1e-6 * float(np.abs(ref).max()))


@pytest.mark.parametrize("shape", [(60, 80), (100, 37), (518, 700), (333, 333)])
@pytest.mark.parametrize("keep_aspect", [True, False])
def test_preprocessing_equals_the_hf_image_processor(shape, keep_aspect):
    cfg = {**registry.DA_V2_PREPROCESS, "keep_aspect_ratio": keep_aspect}
    ours = Preprocess.from_dict(cfg)
    theirs = _hf_processor(cfg)
    rng = np.random.default_rng(shape[0])
    img8 = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = theirs(images=img8, return_tensors="np")["pixel_values"]
    got = ours(img8.astype(np.float32) / 255.0)
    assert got.shape == expected.shape
    assert got.shape[2] % 14 == 0 and got.shape[3] % 14 == 0
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _hf_processor(cfg: dict) -> object:
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    return DPTImageProcessorPil(**{k: v for k, v in cfg.items() if k != "image_processor_type"})


def test_registered_folder_entry_in_the_cache(tiny_folder: Path, tmp_easel_home: Path):
    files = tuple(
        weights.WeightsFile(
            f.name, f"https://example.invalid/tiny/{f.name}", weights.sha256_of(f), f.stat().st_size
        )
        for f in sorted(tiny_folder.iterdir())
    )
    entry = weights.WeightsEntry(
        name="tiny-depth-test",
        files=files,
        licence="Apache-2.0",
        used_by="tests",
        description="tiny random Depth Anything",
        fmt="hf-transformers",
    )
    weights.register(entry, replace=True)
    try:
        with pytest.raises(WeightsError, match="easel weights download tiny-depth-test"):
            estimate_depth(photo(), model="tiny-depth-test", device="cpu")
        shutil.copytree(tiny_folder, weights.entry_dir("tiny-depth-test"))
        assert weights.verify("tiny-depth-test") == []
        depth = estimate_depth(photo(), model="tiny-depth-test", device="cpu")
        assert depth.shape == (60, 80) and (depth > 0).all()
    finally:
        weights.unregister("tiny-depth-test")


def _pinned_spec(name: str, config: dict, **fields: object) -> registry.DepthModelSpec:
    """A test model spec pinned to a made-up commit."""
    return registry.DepthModelSpec(
        name=name,
        repo=f"example/{name}",
        revision="0" * 40,
        licence="Apache-2.0",
        description=name,
        config=config,
        **fields,  # type: ignore[arg-type]
    )


def test_bare_safetensors_with_a_builtin_architecture(
    tiny_folder: Path, tmp_easel_home: Path, monkeypatch: pytest.MonkeyPatch
):
    spec = _pinned_spec(
        "tiny-builtin", TINY_CONFIG, sha256=weights.sha256_of(tiny_folder / "model.safetensors")
    )
    monkeypatch.setitem(registry.MODELS, "tiny-builtin", spec)
    entry = spec.weights_entry()
    assert entry is not None and entry.files[0].url.endswith(f"/resolve/{'0' * 40}/model.safetensors")
    weights.register(entry, replace=True)
    try:
        folder = weights.entry_dir("tiny-builtin")
        folder.mkdir(parents=True)
        shutil.copy(tiny_folder / "model.safetensors", folder / "model.safetensors")
        from_cache = estimate_depth(photo(), model="tiny-builtin", device="cpu")
        from_folder = estimate_depth(photo(), weights=tiny_folder, device="cpu")
        np.testing.assert_allclose(from_cache, from_folder, rtol=1e-5)
        from_file = estimate_depth(
            photo(), model="tiny-builtin", weights=folder / "model.safetensors", device="cpu"
        )
        np.testing.assert_allclose(from_file, from_folder, rtol=1e-5)
        # a checkpoint of another architecture does not fit
        wider = {**TINY_CONFIG, "fusion_hidden_size": 24}
        monkeypatch.setitem(
            registry.MODELS,
            "tiny-wider",
            registry.DepthModelSpec(
                name="tiny-wider",
                repo="example/wider",
                revision=None,
                licence="MIT",
                description="",
                config=wider,
            ),
        )
        with pytest.raises(WeightsError, match="do not fit"):
            DepthEstimator.load("tiny-wider", weights=folder / "model.safetensors", device="cpu")
    finally:
        weights.unregister("tiny-builtin")


def test_missing_default_weights_name_the_two_ways_out(tmp_easel_home: Path):
    with pytest.raises(WeightsError) as info:
        estimate_depth(photo(), device="cpu")
    message = str(info.value)
    assert "easel weights download depth-anything-v2-small" in message
    assert "--weights PATH" in message
    assert "https://huggingface.co/depth-anything/Depth-Anything-V2-Small-hf/resolve/" in message


def test_models_without_a_verified_download_need_weights(tmp_easel_home: Path):
    with pytest.raises(WeightsError, match="--weights PATH") as info:
        estimate_depth(photo(), model="depth-anything-v2-base", device="cpu")
    assert "CC-BY-NC-4.0" in str(info.value)


def test_unknown_model_and_bad_options(tiny_folder: Path):
    with pytest.raises(InputError, match="unknown depth model"):
        estimate_depth(photo(), model="no-such-model", device="cpu")
    with pytest.raises(InputError, match="precision"):
        DepthEstimator.load(weights=tiny_folder, device="cpu", precision="int4")
    with pytest.raises(InputError):
        estimate_depth(photo(), weights=tiny_folder, device="cpu", depth_range=(5.0, 1.0))
    with pytest.raises(InputError):
        estimate_depth(np.full((8, 8, 3), 2.0, np.float32), weights=tiny_folder, device="cpu")


def test_bad_weights_files(tmp_path: Path, tiny_folder: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="config.json"):
        DepthEstimator.load(weights=tmp_path / "empty", device="cpu")
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(tiny_folder / "config.json", no_weights / "config.json")
    with pytest.raises(WeightsError, match="model.safetensors"):
        DepthEstimator.load(weights=no_weights, device="cpu")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_folder, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(WeightsError):
        DepthEstimator.load(weights=corrupt, device="cpu")
    bad_file = tmp_path / "model.safetensors"
    bad_file.write_bytes(b"garbage bytes, not a safetensors file")
    with pytest.raises(WeightsError, match="safetensors"):
        DepthEstimator.load(weights=bad_file, device="cpu")
    with pytest.raises(WeightsError, match="not found"):
        DepthEstimator.load(weights=tmp_path / "nowhere", device="cpu")
    pth = tmp_path / "model.pth"
    pth.write_bytes(b"x")
    with pytest.raises(WeightsError, match="folder or a .safetensors"):
        DepthEstimator.load(weights=pth, device="cpu")


def test_estimator_cache_and_progress(tiny_folder: Path):
    a = get_estimator(weights=tiny_folder, device="cpu")
    b = get_estimator(weights=tiny_folder, device="cpu")
    assert a is b
    stages = []
    estimate_depth(photo(), weights=tiny_folder, device="cpu", progress=lambda u: stages.append(u.stage))
    assert "depth network" in stages and "depth refine" in stages


def test_bf16_autocast_smoke(tiny_folder: Path):
    """bf16 on CPU runs and stays close to fp32 (a smoke check on the tiny model, not a quality claim)."""
    img = photo()
    fp32 = DepthEstimator.load(weights=tiny_folder, device="cpu", precision="fp32").predict(img)
    bf16_est = DepthEstimator.load(weights=tiny_folder, device="cpu", precision="bf16")
    assert bf16_est.autocast_dtype == torch.bfloat16
    bf16 = bf16_est.predict(img)
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert np.corrcoef(fp32.ravel(), bf16.ravel())[0, 1] > 0.95


@pytest.mark.gpu
def test_cuda_matches_cpu(tiny_folder: Path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    img = photo()
    cpu = DepthEstimator.load(weights=tiny_folder, device="cpu").predict(img)
    gpu = DepthEstimator.load(weights=tiny_folder, device="cuda").predict(img)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3 * float(np.abs(cpu).max()))


def test_registry_entries():
    names = {e.name: e for e in registry.ENTRIES}
    assert set(names) == {
        "depth-anything-v2-small",
        "depth-anything-v2-base",
        "depth-anything-v2-large",
        "dpt-large",
    }
    dpt = names["dpt-large"]
    assert dpt.verified and dpt.fmt == "safetensors" and dpt.licence == "Apache-2.0"
    assert dpt.files[0].url == (
        "https://huggingface.co/Intel/dpt-large/resolve/bc15f29aa3a80d532f2ed650b5e16ac48d8958f9/model.safetensors"
    )
    # Base and Large are listed with their non-commercial licence but are not downloadable
    # until a verified sha256 is recorded.
    for name in ("depth-anything-v2-base", "depth-anything-v2-large"):
        assert names[name].licence == "CC-BY-NC-4.0" and not names[name].verified
    small = names["depth-anything-v2-small"]
    assert small.verified
    assert small.licence == "Apache-2.0" and small.is_folder and small.fmt == "hf-transformers"
    base = "https://huggingface.co/depth-anything/Depth-Anything-V2-Small-hf/resolve/"
    rev = "5426e4f0f36572d16453bbda7a8389317b1bef99"
    files = {f.filename: f for f in small.files}
    assert set(files) == {"config.json", "model.safetensors", "preprocessor_config.json"}
    for name, f in files.items():
        assert f.url == f"{base}{rev}/{name}"
    assert (
        files["model.safetensors"].sha256
        == "3152477ce0d8d6978d76b995120de97cb5b928701fd0f817769f59e249a16b70"
    )
    assert small.size == 99_173_660 + 950 + 775
    assert weights.get_entry("depth-anything-v2-small") == small
    for name in ("depth-anything-v2-base", "depth-anything-v2-large"):
        assert registry.MODELS[name].licence == "CC-BY-NC-4.0"
    for spec in registry.MODELS.values():
        if spec.config is not None:
            cfg = dict(spec.config)
            transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)  # valid configs


def test_cached_default_model_loads_from_its_folder(tiny_folder: Path, tmp_easel_home: Path):
    """The default entry is a Hugging Face folder in the cache: resolve() returns it and it loads."""
    shutil.copytree(tiny_folder, weights.entry_dir("depth-anything-v2-small"))
    assert weights.is_present("depth-anything-v2-small")
    assert weights.resolve("depth-anything-v2-small") == weights.entry_dir("depth-anything-v2-small")
    depth = estimate_depth(photo(), device="cpu")
    assert depth.shape == (60, 80) and (depth > 0).all()


def test_a_checkpoint_missing_tensors_is_refused(tiny_folder: Path, tmp_path: Path):
    """transformers would fill missing tensors randomly (and only log it); easel refuses the folder."""
    from safetensors.torch import load_file, save_file

    partial = tmp_path / "partial"
    shutil.copytree(tiny_folder, partial)
    state = load_file(str(partial / "model.safetensors"))
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, str(partial / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsError, match="missing"):
        DepthEstimator.load(weights=partial, device="cpu")


@pytest.mark.parametrize(
    ("name", "published_bytes"),
    [
        ("depth-anything-v2-small", 99_173_660),
        ("depth-anything-v2-base", 390e6),
        ("depth-anything-v2-large", 1.34e9),
        ("dpt-large", 1.37e9),
    ],
)
def test_builtin_architectures_match_the_published_file_sizes(name: str, published_bytes: float):
    """The written-down configs build networks whose fp32 size is that of the published files."""
    cfg = dict(registry.MODELS[name].config or {})
    with torch.device("meta"):
        net = transformers.AutoModelForDepthEstimation.from_config(
            transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
        )
    size = 4 * sum(p.numel() for p in net.parameters())
    assert abs(size - published_bytes) / published_bytes < 0.01, (name, size)


TINY_DPT = {
    **registry.dpt_vit_config(32, 2, 4, [0, 1, 2, 3], [8, 16, 32, 32], 16),
    "image_size": 64,
    "intermediate_size": 64,
    "initializer_range": 0.5,
}


def test_a_bare_dpt_safetensors_loads_with_the_dpt_preprocessing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = save_tiny_depth_model(tmp_path / "dpt", config=TINY_DPT)
    spec = _pinned_spec("tiny-dpt", TINY_DPT, preprocess=dict(registry.DPT_PREPROCESS))
    monkeypatch.setitem(registry.MODELS, "tiny-dpt", spec)
    est = DepthEstimator.load("tiny-dpt", weights=folder / "model.safetensors", device="cpu")
    assert est.preprocess.output_shape(60, 80) == (384, 384)
    depth = est.predict(photo())
    assert depth.shape == (60, 80) and np.isfinite(depth).all() and np.ptp(depth) > 0


@pytest.mark.parametrize("shape", [(60, 80), (400, 300)])
def test_dpt_preprocessing_equals_the_hf_image_processor(shape):
    ours = Preprocess.from_dict(registry.DPT_PREPROCESS)
    theirs = _hf_processor(registry.DPT_PREPROCESS)
    img8 = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = theirs(images=img8, return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(ours(img8.astype(np.float32) / 255.0), expected, atol=1e-5)


def test_foreign_weights_files_name_what_they_are(tmp_path: Path, tiny_folder: Path):
    """Issue #8: one line naming the file and what it is, not the loader's own error text."""
    html = tmp_path / "page.safetensors"
    html.write_text("<!DOCTYPE html><html><body>Not Found</body></html>\n")
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((tiny_folder / "model.safetensors").read_bytes()[:-100])
    cases = [
        (html, "page.safetensors: not a safetensors weights file (it is an HTML page"),
        (png, "photo.png: expected a Hugging Face folder or a .safetensors file (it is a PNG image)"),
        (cut, "cut.safetensors: safetensors file is truncated"),
    ]
    for path, expected in cases:
        with pytest.raises(WeightsError) as info:
            DepthEstimator.load("dpt-large", weights=path, device="cpu")
        message = str(info.value)
        assert message.startswith(f"{tmp_path}/{expected}"), message
        assert "\n" not in message and "deserializing" not in message
    folder = tmp_path / "folder"
    shutil.copytree(tiny_folder, folder)
    (folder / "model.safetensors").write_bytes(html.read_bytes())
    with pytest.raises(
        WeightsError, match=r"model.safetensors: not a safetensors weights file \(it is an HTML"
    ):
        DepthEstimator.load(weights=folder, device="cpu")
    (folder / "config.json").write_text("{}")
    with pytest.raises(WeightsError, match=r"config.json: not a transformers model configuration"):
        DepthEstimator.load(weights=folder, device="cpu")


# ---------------------------------------------------------------- DepthOptions (issue #18)


def test_options_object_equals_keyword_arguments(tiny_folder: Path):
    from easel.depth.options import DepthOptions

    img = photo()
    options = DepthOptions(weights=tiny_folder, device="cpu", depth_range=(2.0, 9.0), refine_radius=6)
    by_options = estimate_depth(img, options)
    by_keywords = estimate_depth(
        img, weights=tiny_folder, device="cpu", depth_range=(2.0, 9.0), refine_radius=6
    )
    np.testing.assert_array_equal(by_options, by_keywords)
    # keywords override the options' fields; the refinement radius is used
    wider = estimate_depth(img, options, refine_radius=20)
    assert not np.array_equal(wider, by_options) and options.refine_radius == 6
    unrefined = estimate_depth(img, options, refine=False)
    assert not np.array_equal(unrefined, by_options)


def test_to_depth_is_the_estimate_after_the_network(tiny_folder: Path):
    from easel.depth.options import DepthOptions

    img = photo()
    est = get_estimator(weights=tiny_folder, device="cpu")
    options = DepthOptions(weights=tiny_folder, device="cpu", depth_range=(1.5, 4.0))
    np.testing.assert_array_equal(est.to_depth(est.predict(img), img, options), estimate_depth(img, options))
    assert est.precision == "fp32"
    assert DepthEstimator.load(weights=tiny_folder, device="cpu", precision="bf16").precision == "bf16"


def test_a_positional_model_name_is_a_clear_type_error(tiny_folder: Path):
    with pytest.raises(TypeError, match="model="):
        estimate_depth(photo(), "depth-anything-v2-small")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"device": "tpu"}, "device must be one of auto, cpu, cuda, mps or cuda:N; got 'tpu'"),
        ({"precision": "int4"}, "precision must be one of fp32, bf16, fp16, auto; got 'int4'"),
        ({"depth_kind": "height"}, "depth_kind must be one of depth, disparity; got 'height'"),
        ({"depth_range": (5.0, 1.0)}, "depth_range must have 0 < near < far; got near=5, far=1"),
        ({"depth_range": (0.0, 1.0)}, "depth_range must have 0 < near < far; got near=0, far=1"),
        ({"depth_range": (1.0, float("inf"))}, "depth_range must have 0 < near < far; got near=1, far=inf"),
        ({"depth_range": (1.0,)}, "depth_range must be two numbers (near, far); got (1.0,)"),
        ({"refine_radius": 0}, "refine_radius must be a whole number >= 1, got 0"),
        ({"refine_radius": 2.5}, "refine_radius must be a whole number >= 1, got 2.5"),
        ({"refine": "yes"}, "refine must be True, False or None, got 'yes'"),
    ],
)
def test_option_errors_name_the_field(fields: dict, message: str):
    from easel.depth.options import DepthOptions
    from easel.options import OptionError

    with pytest.raises(OptionError) as exc:
        DepthOptions(**fields).validate()
    assert str(exc.value) == message and exc.value.field == next(iter(fields))
    with pytest.raises(OptionError, match=f"^{next(iter(fields))} "):  # before any model is looked up
        estimate_depth(photo(), model="no-such-model", **fields)


def test_cuda_n_devices_are_valid_options():
    from easel.depth.options import DepthOptions

    assert DepthOptions(device="cuda:1").validate().device == "cuda:1"


def test_depth_for_image_estimates_and_says_what_ran(tiny_folder: Path):
    from easel.depth.pipeline import depth_for_image

    img = photo()
    result = depth_for_image(img, weights=tiny_folder, device="auto", refine_radius=10_000)
    np.testing.assert_array_equal(
        result.depth, estimate_depth(img, weights=tiny_folder, device="auto", refine_radius=80)
    )
    assert result.refined and result.model == "depth-anything-v2-small"
    assert result.device in ("cpu", "cuda", "mps") and result.precision == "fp32"
    assert result.options.refine_radius == 80  # at most the long side
    assert {"load_model", "network", "refine"} <= set(result.timings)


def test_depth_for_image_fits_a_file_and_refines_it_only_when_enlarged(tmp_path: Path):
    from easel.depth.pipeline import depth_for_image

    img = photo()
    full = np.tile(np.linspace(1.0, 3.0, 80, dtype=np.float32), (60, 1))
    np.save(tmp_path / "full.npy", full)
    np.save(tmp_path / "half.npy", full[::2, ::2])
    kept = depth_for_image(img, depth_file=tmp_path / "full.npy")
    np.testing.assert_array_equal(kept.depth, full)
    assert not kept.refined and kept.model is None and kept.device is None and "read_depth" in kept.timings
    assert depth_for_image(img, depth_file=tmp_path / "full.npy", refine=True).refined
    enlarged = depth_for_image(img, depth_file=tmp_path / "half.npy")
    assert enlarged.refined and enlarged.depth.shape == (60, 80)
    assert not depth_for_image(img, depth_file=tmp_path / "half.npy", refine=False).refined
    alone = depth_for_image(None, depth_file=tmp_path / "half.npy", depth_kind="disparity")
    assert alone.depth.shape == (30, 40) and not alone.refined
    assert alone.depth.min() == pytest.approx(1.0) and alone.depth.max() == pytest.approx(10.0)
    with pytest.raises(InputError, match="give a photo"):
        depth_for_image(None)
