"""The studio without a browser: path checks, limits, the bind rule, forms and the command line, the queue."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easel.cli import build_parser, main
from easel.errors import InputError
from easel.io.images import write_image
from easel.options import declared_options
from easel.web.app import Studio, StudioSettings, gallery_records, status_html
from easel.web.forms import build_options, form_fields, option_args
from easel.web.limits import Limits
from easel.web.paths import (
    PathGuard,
    check_uploads,
    decoded,
    file_route_target,
    inside,
    refused_reason,
    resolve_inside,
)
from easel.web.queue import Job, JobCancelled, JobQueue
from easel.web.server import check_bind, is_loopback, parse_login, read_logins
from easel.web.tabs import Step
from test_contract import png_claiming

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest

# ---------------------------------------------------------------- path checks


@pytest.fixture
def root(tmp_path: Path) -> Path:
    studio = tmp_path / "studio"
    (studio / "out").mkdir(parents=True)
    (studio / "out" / "art.png").write_bytes(b"x")
    return studio


def test_inside_resolves_dotdot_and_absolute_paths(root: Path) -> None:
    assert inside(root / "out" / "art.png", [root])
    assert inside(root, [root])
    assert not inside(root / ".." / "elsewhere.png", [root])
    assert not inside(f"{root}/out/../../../../etc/passwd", [root])
    assert not inside("/etc/passwd", [root])
    assert not inside(Path(str(root) + "-sibling") / "x", [root])  # a prefix of the name is not inside


def test_inside_follows_symlinks(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "out" / "link.txt").symlink_to(secret)
    (root / "out" / "passwd").symlink_to("/etc/passwd")
    (root / "out" / "up").symlink_to(tmp_path, target_is_directory=True)
    assert not inside(root / "out" / "link.txt", [root])
    assert not inside(root / "out" / "passwd", [root])
    assert not inside(root / "out" / "up" / "secret.txt", [root])
    with pytest.raises(InputError, match="outside the studio"):
        resolve_inside(root / "out" / "link.txt", [root])
    assert resolve_inside(root / "out" / "art.png", [root]) == (root / "out" / "art.png").resolve()


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=%252Fetc%252Fpasswd",
        "/gradio_api/file/etc/passwd",
        "/gradio_api/file={root}/out/../../../../etc/passwd",
        "/gradio_api/file={root}/out/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/gradio_api/file={root}/out/%252e%252e/%252e%252e/etc/passwd",
        "/gradio_api/file={root}/out/..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file={root}/out/..%5c..%5cetc%5cpasswd",
        "/gradio_api/file={root}/out/art.png%00.txt",
        "/gradio_api/file=http://example.com/x.png",
        "/gradio_api/proxy=http://example.com/",
        "/static/../../etc/passwd",
        "/file=etc/passwd",
    ],
)
def test_refused_requests(path: str, root: Path) -> None:
    assert refused_reason(path.format(root=root), [root]) is not None


def test_allowed_requests(root: Path) -> None:
    assert refused_reason(f"/gradio_api/file={root}/out/art.png", [root]) is None
    assert refused_reason("/", [root]) is None
    assert refused_reason("/gradio_api/queue/join", [root]) is None
    assert decoded("%252e%252e") == ".."
    assert file_route_target("/gradio_api/file=%2Ftmp%2Fa.png") == "/tmp/a.png"


def test_upload_paths_sent_by_a_page_must_be_the_studios(root: Path, tmp_path: Path) -> None:
    from types import SimpleNamespace

    mine = root / "out" / "art.png"
    check_uploads([str(mine), None, [str(mine)], SimpleNamespace(path=str(mine))], [root])
    (root / "out" / "escape").symlink_to(tmp_path)
    for bad in ("/etc/passwd", f"{root}/out/../../secret.png", f"{root}/out/escape/x.png"):
        for value in (bad, [str(mine), bad], SimpleNamespace(path=bad)):
            with pytest.raises(InputError, match="an upload is outside the studio's folders"):
                check_uploads([value], [root])


def test_path_guard_answers_403_and_passes_the_rest(root: Path) -> None:
    import asyncio

    calls: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = PathGuard(app, [root])

    def request(raw: str) -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request"}

        from urllib.parse import unquote

        scope = {"type": "http", "path": unquote(raw), "raw_path": raw.encode()}
        asyncio.run(guard(scope, receive, send))
        return int(sent[0]["status"])

    assert request("/gradio_api/file=%2Fetc%2Fpasswd") == 403
    assert request(f"/gradio_api/file={root}/out/%2e%2e/%2e%2e/%2e%2e/etc/passwd") == 403
    assert calls == []
    assert request(f"/gradio_api/file={root}/out/art.png") == 200
    assert calls == [f"/gradio_api/file={root}/out/art.png"]


# ---------------------------------------------------------------- limits


def test_upload_size_limit(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 2001)
    Limits(max_upload_mb=0.003).check_upload(f, "Photo")
    with pytest.raises(InputError, match=r"^Photo: the file is 0.002 MB; the studio accepts up to 0.002 MB$"):
        Limits(max_upload_mb=0.002).check_upload(f, "Photo")


def test_pixel_limit_is_read_from_the_header(tmp_path: Path) -> None:
    claims = tmp_path / "claims.png"
    claims.write_bytes(png_claiming(8000, 6000))  # 48 MP claimed, a few bytes of data
    with pytest.raises(InputError, match="8000x6000 is 48 megapixels; the studio accepts up to 40"):
        Limits().check_image(claims, "Photo")
    small = tmp_path / "small.png"
    write_image(small, np.zeros((30, 40, 3), np.float32))
    assert Limits(max_megapixels=0.0012).check_image(small, "Photo") == (30, 40)
    with pytest.raises(InputError, match="0.0012 megapixels; the studio accepts up to 0.001$"):
        Limits(max_megapixels=0.001).check_image(small, "Photo")


def test_a_bad_image_is_one_line_without_the_temporary_path(tmp_path: Path) -> None:
    bad = tmp_path / "upload.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError) as caught:
        Limits().check_image(bad, "Photo")
    message = str(caught.value)
    assert message.startswith("Photo: ") and str(tmp_path) not in message and "\n" not in message


def test_video_length_limit_and_bad_limits() -> None:
    Limits(max_video_s=10).check_video_length(10, "the clip")
    with pytest.raises(InputError, match="11 s is longer than the studio's limit of 10 s"):
        Limits(max_video_s=10).check_video_length(11, "the clip")
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InputError, match="max-upload-mb must be a number > 0"):
            Limits(max_upload_mb=bad)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_folder_uploads_take_photos_and_zips_by_base_name(tmp_path: Path) -> None:
    from easel.web.uploads import collect_folder

    a = _photo(tmp_path / "a.png", (12, 16))
    png = _photo(tmp_path / "b.png", (12, 16), seed=1).read_bytes()
    archive = _zip(
        tmp_path / "more.zip",
        {
            "trip/b.png": png,
            "../../escape.png": png,  # a traversal name: only its base name is used
            "/abs/c.PNG": png,
            "trip\\d.jpg.png": png,
            "notes.txt": b"skipped",
            "__MACOSX/trip/._b.png": b"skipped",
            ".hidden.png": b"skipped",
        },
    )
    dest = tmp_path / "job" / "photos"
    names = collect_folder([a, archive], dest, "photos", Limits(), "Photos")
    assert names == ["a.png", "b.png", "c.PNG", "d.jpg.png", "escape.png"]
    assert sorted(p.name for p in dest.iterdir()) == names and (dest / "b.png").read_bytes() == png
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "job" / "escape.png").exists()


def test_folder_uploads_refuse_what_they_cannot_take(tmp_path: Path) -> None:
    from easel.web.uploads import collect_folder

    png = _photo(tmp_path / "a.png", (12, 16)).read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("x")
    big = bytes(30_000)  # 30 kB that zip to a few bytes
    cases: list[tuple[list[Path], str, Limits, str]] = [
        ([text], "photos", Limits(), "^Photos: notes.txt is not a photo or a zip of photos$"),
        (
            [_zip(tmp_path / "dup.zip", {"x/a.png": png, "y/a.png": png})],
            "photos",
            Limits(),
            "two files are named a.png",
        ),
        (
            [_zip(tmp_path / "none.zip", {"a.txt": b"x"})],
            "photos",
            Limits(),
            "^Photos: no photos in the upload$",
        ),
        (
            [_zip(tmp_path / "big.zip", {"a.png": big})],
            "photos",
            Limits(max_upload_mb=0.02),
            "a.png in the zip is 0.03 MB",
        ),
        (
            [_zip(tmp_path / "many.zip", {f"{i}.png": bytes(10_000) for i in range(6)})],
            "photos",
            Limits(max_upload_mb=0.012),  # each within the limit, 60 kB in all: over 4 x 12 kB
            "the zip unpacks to more than the studio accepts",
        ),
        (
            [tmp_path / "a.png"],
            "photos",
            Limits(max_megapixels=1e-4),
            "Photos: a.png: 16x12 is 0.000192 megapixels",
        ),
        ([_zip(tmp_path / "bad.zip", {"a.png": b"not a png"})], "photos", Limits(), "^Photos: a.png: "),
        ([tmp_path / "notazip.zip"], "photos", Limits(), "the zip cannot be read"),
        (
            [_zip(tmp_path / "half.zip", {"s/cameras.bin": b"", "s/images.bin": b""})],
            "colmap",
            Limits(),
            "needs cameras, images and points3D",
        ),
    ]
    (tmp_path / "notazip.zip").write_bytes(b"PK not really")
    for i, (uploads, kind, limits, needle) in enumerate(cases):
        with pytest.raises(InputError, match=needle):
            collect_folder(uploads, tmp_path / f"job{i}" / kind, kind, limits, "Photos")  # type: ignore[arg-type]


# ---------------------------------------------------------------- bind and logins


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("studio.example.com", False),
    ],
)
def test_bind_rule(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    check_bind(host, [("ada", "pw")])  # with a login anything goes
    if loopback:
        check_bind(host, [])
    else:
        with pytest.raises(InputError, match="--auth USER:PASS or --auth-file FILE"):
            check_bind(host, [])


def test_logins(tmp_path: Path) -> None:
    assert parse_login("ada:pa:ss") == ("ada", "pa:ss")
    for bad in ("ada", "ada:", ":pw", " :pw"):
        with pytest.raises(InputError, match="expected USER:PASS"):
            parse_login(bad)
    f = tmp_path / "logins.txt"
    f.write_text("# who may log in\nada:one\n\nbob:two\n")
    assert read_logins(f) == [("ada", "one"), ("bob", "two")]
    f.write_text("# nobody\n")
    with pytest.raises(InputError, match="no USER:PASS line"):
        read_logins(f)
    f.write_text("ada\n")
    with pytest.raises(InputError, match="line 1: expected USER:PASS"):
        read_logins(f)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["serve", "--host", "0.0.0.0"], "--host 0.0.0.0 would let other machines use the studio"),
        (["serve", "--host", "192.168.1.20", "--auth", "ada"], "--auth: expected USER:PASS"),
        (
            ["serve", "--auth-file", "/nonexistent/logins.txt"],
            "--auth-file /nonexistent/logins.txt: cannot read",
        ),
        (["serve", "--weights", "vgg19-caffe"], "expected MODEL=PATH"),
        (["serve", "--weights", "vgg19-caffe=/nonexistent.pth"], "no such file or folder"),
        (["serve", "--max-upload-mb", "0"], "expected a number > 0"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(
    argv: list[str],
    needle: str,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err, err
    assert not (tmp_path / "outputs").exists()  # refused before anything was made


# ---------------------------------------------------------------- forms and the command line


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    return Studio(StudioSettings(tmp_path / "out", temp=tmp_path / "tmp"))


def _photo(path: Path, shape: tuple[int, int] = (36, 48), seed: int = 0) -> Path:
    write_image(path, np.random.default_rng(seed).random((*shape, 3)).astype(np.float32))
    return path


def _video(path: Path, num_frames: int = 4, fps: float = 8.0) -> Path:
    from easel.io.video import write_video

    base = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
    return write_video(path, [np.roll(base, i, axis=1) for i in range(num_frames)], fps=fps)


def _values(studio: Studio, tab: str, uploads: list[Any], **changed: Any) -> list[Any]:
    fields = studio.fields[tab]
    names = [f.name for f in fields]
    values = [f.initial for f in fields]
    for name, value in changed.items():
        values[names.index(name)] = value
    return [*uploads, *values]


def test_forms_come_from_the_declarations() -> None:
    from easel.style import StyleOptions

    fields = {f.name: f for f in form_fields(StyleOptions, main=("size", "iterations"))}
    declared = {o.name: o for o in declared_options(StyleOptions)}
    assert fields["size"].initial == 512 and not fields["size"].advanced
    assert fields["optimizer"].kind == "choice" and fields["optimizer"].choices == ("lbfgs", "adam")
    assert fields["optimizer"].advanced
    assert fields["multiscale"].kind == "bool" and fields["multiscale"].initial is True
    assert fields["style_weight"].option.spec.help == declared["style_weight"].spec.help
    assert "weights" not in fields  # a local path: never named by a page
    assert set(fields) == {o.name for o in declared.values() if o.spec.cli} - {"weights"}


def test_a_bad_value_names_the_flag() -> None:
    from easel.art.quantize import QuantizeOptions

    fields = form_fields(QuantizeOptions)
    with pytest.raises(InputError, match="n_colors must be a whole number"):
        build_options(QuantizeOptions, fields, [2.5, "rgb", False, 0])
    assert option_args(fields, {QuantizeOptions: QuantizeOptions()}) == []


def test_numbers_without_a_default_are_text_fields() -> None:
    """A number box cannot stay empty (a page sends 0): ``--epochs`` (default None) is text."""
    from easel.flythrough.options import FitOptions
    from easel.options import OptionError

    fields = {f.name: f for f in form_fields(FitOptions)}
    epochs = fields["epochs"]
    assert epochs.kind == "text" and fields["steps"].kind == "int" and epochs.initial == ""
    assert epochs.parse("") is None and epochs.parse(" 3 ") == 3 and epochs.parse(4) == 4
    with pytest.raises(OptionError, match="cannot read '2.5'"):
        epochs.parse("2.5")
    options = build_options(FitOptions, list(fields.values()), [f.initial for f in fields.values()])
    assert options.epochs is None


def _kenburns_inputs(tmp_path: Path) -> list[Any]:
    from easel.cameras import Camera
    from easel.scene3d.synthetic import layered_scene

    scene, cam = layered_scene(64, 48)
    view = scene.render(Camera(cam))
    write_image(tmp_path / "scene.png", view.image)
    np.save(tmp_path / "scene.npy", view.depth)
    return [str(tmp_path / "scene.png"), str(tmp_path / "scene.npy")]


def _flythrough_inputs(tmp_path: Path, num_views: int = 6) -> list[Any]:
    """Photos and their COLMAP model (exact cameras) as a page sends them: lists of files."""
    from easel.flythrough.synthetic import write_synthetic_scene

    data = write_synthetic_scene(tmp_path / "synthetic", num_views, (24, 32), points=2000, supersample=1)
    return [
        [str(p) for p in sorted(data.images_dir.iterdir())],
        [str(p) for p in sorted(data.model_dir.iterdir())],
    ]


CHANGES: dict[str, dict[str, Any]] = {
    "quantize": {"n_colors": 7, "space": "lab", "dither": True, "seed": 3},
    "superpixels": {"n_segments": 40, "compactness": 4.5, "boundaries": True, "boundary_color": "#ff0000"},
    "stylize": {
        "size": 64,
        "iterations": 5,
        "coarse_iterations": 3,
        "style_weight": 50.0,
        "multiscale": False,
        "content_layers": "relu3_2",
        "preserve_color": "luminance",
        "optimizer": "adam",
        "tile_size": 400,
    },
    "stylize-video": {
        "size": 64,
        "iterations": 3,
        "iterations_first": 6,
        "temporal_weight": 50.0,
        "long_term": 2,
    },
    "dream": {"layers": "relu4_2:1,relu5_1:0.5", "octaves": 3, "iterations": 4, "step": 2.0, "jitter": 8},
    "photo3d": {
        "trajectory": "swing",
        "frames": 12,
        "x_shift": 0.05,
        "fps": 12.0,
        "layers": 1,
        "stereo": True,
    },
    "depth": {"depth_kind": "disparity", "depth_range": "2,20", "refine_radius": 5, "precision": "bf16"},
    "flythrough": {
        "steps": 40,
        "size": 48,
        "descriptor_channels": 5,
        "seed": 3,
        "matcher": "sequential",
        "undistort": False,
        "seconds": 2.0,
        "fps": 12.0,
        "exposure": 0.5,
    },
    "kenburns": {
        "zoom": 1.5,
        "shift": "0.05,0",
        "duration_s": 2.0,
        "fps": 10.0,
        "output_shape": "320x240",
        "stereo": True,
        "crf": 20,
        "easing": "linear",
    },
}


@pytest.mark.parametrize("tab", sorted(CHANGES))
def test_the_command_line_gives_the_same_options(tab: str, studio: Studio, tmp_path: Path) -> None:
    """The command line shown for a run, parsed by easel's own parser, gives the run's options."""
    photo = str(_photo(tmp_path / "photo.png"))
    uploads: dict[str, list[Any]] = {
        "quantize": [photo],
        "superpixels": [photo],
        "stylize": [photo, [photo, str(_photo(tmp_path / "style.jpg", seed=1))]],
        "stylize-video": [str(_video(tmp_path / "clip.mp4")), [photo]],
        "dream": [photo, None],
        "depth": _kenburns_inputs(tmp_path),
        "kenburns": _kenburns_inputs(tmp_path),
        "photo3d": _kenburns_inputs(tmp_path),
        "flythrough": _flythrough_inputs(tmp_path),
    }
    vgg = tmp_path / "vgg.pth"
    vgg.write_bytes(b"weights")
    studio.settings.weights = {"vgg19-caffe": vgg}
    prepared = studio.prepare(tab, "s", _values(studio, tab, uploads[tab], **CHANGES[tab]))
    entry = studio.tabs[tab]
    steps = entry.steps or (Step((tab,), entry.options),)
    assert len(prepared.argvs) == len(steps)
    for argv, step in zip(prepared.argvs, steps, strict=True):
        assert argv[: len(step.command)] == list(step.command) and argv[0] == tab and "-o" in argv
        args = build_parser().parse_args(argv)
        for cls in step.options:
            options = prepared.run.options[cls]
            for opt in declared_options(cls):
                if opt.spec.cli and hasattr(args, opt.name) and opt.name not in entry.excluded(cls):
                    parsed, ran = getattr(args, opt.name), getattr(options, opt.name)
                    if isinstance(ran, os.PathLike):
                        parsed, ran = Path(parsed), Path(ran)
                    if isinstance(parsed, list) and len(parsed) == 1 and not isinstance(ran, (list, tuple)):
                        parsed = parsed[
                            0
                        ]  # stylize's sweepable options (--style-weight 1e3,1e4) parse to lists
                    assert parsed == ran, f"{tab} {opt.flag}: command line {parsed!r}, studio {ran!r}"
    argv = [a for line in prepared.argvs for a in line]
    changed = {f.cli_flag for f in studio.fields[tab] if f.name in CHANGES[tab]}
    assert changed <= set(argv), (changed, argv)
    if tab == "stylize":
        assert argv.count("--style") == 2 and ["--weights", str(vgg)] == argv[argv.index("--weights") :][:2]
    # every file named in the command line is in the job folder (inputs) or will be written there
    for name in argv:
        if Path(name).suffix in (".png", ".jpg", ".mp4", ".npy", ".glb") and "/" not in name:
            written = name in {p.name for p in prepared.run.outputs.values()}
            assert written or (prepared.folder / name).is_file(), name
    if tab == "flythrough":  # photos and model are folders; fit writes the scene that render reads
        fit, render = prepared.argvs
        assert fit[2:5] == ["photos", "--colmap", "colmap"] and fit[-2:] == ["-o", "scene"]
        assert render[2] == "scene" and render[-2:] == ["-o", "flythrough.mp4"]
        assert ["--size", "48"] == fit[fit.index("--size") :][:2] and "--size" not in render
        assert sorted(p.name for p in (prepared.folder / "photos").iterdir()) == [
            f"view_{i:03d}.png" for i in range(6)
        ]


def test_prepare_refuses_before_making_anything(studio: Studio, tmp_path: Path) -> None:
    photo = str(_photo(tmp_path / "photo.png"))
    three = [str(_photo(tmp_path / f"p{i}.png", seed=i)) for i in range(3)]
    cases = [
        ("quantize", [None], {}, "Photo: upload a file first"),
        ("quantize", [photo], {"n_colors": 0}, "--colors must be between 1 and 4096"),
        ("superpixels", [photo], {"boundary_color": "bluish"}, "--boundary-color expected a colour"),
        ("stylize", [photo, []], {}, "Style images: upload a file first"),
        ("depth", [None, None], {}, "give a photo to estimate depth from, or a depth file"),
        ("kenburns", [photo, None], {"duration_s": 120.0}, "120 s is longer than the studio's limit of 60 s"),
        ("photo3d", [photo, None], {"trajectory": "all"}, "--trajectory all makes one clip per trajectory"),
        ("photo3d", [photo, None], {"frames": 2000}, "80 s is longer than the studio's limit of 60 s"),
        ("flythrough", [[], None], {}, "Photos \\(several, or a zip\\): upload a file first"),
        ("flythrough", [[photo, photo], None], {}, "two files are named photo.png"),
        ("flythrough", [[photo], None], {}, "a fly-through needs at least 3 photos of the scene; got 1"),
        ("flythrough", [[photo], [photo]], {}, "photo.png is not cameras.bin"),
        ("flythrough", [three, None], {"seconds": 90.0}, "the video: 90 s is longer than the studio's limit"),
    ]
    for tab, uploads, changed, needle in cases:
        with pytest.raises(InputError, match=needle):
            studio.prepare(tab, "s", _values(studio, tab, uploads, **changed))
    assert list(studio.outputs.iterdir()) == []


# ---------------------------------------------------------------- the queue


def test_queue_positions_cancel_and_order() -> None:
    queue = JobQueue(concurrency=1)
    release = threading.Event()
    order: list[str] = []

    def slow(job: Job) -> str:
        order.append(job.tab)
        while not release.wait(0.01):
            job.report(_update())
        return "slow"

    first = queue.submit(Job("a", "s1", work=slow))
    second = queue.submit(Job("b", "s2", work=lambda job: order.append(job.tab)))
    third = queue.submit(Job("c", "s3", work=lambda job: order.append(job.tab)))
    _until(lambda: first.state == "running")
    assert (queue.position(first), queue.position(second), queue.position(third)) == (0, 1, 2)
    assert "position 2" in status_html("c", third, queue.position(third), 1)
    queue.cancel(second)
    assert second.done and second.state == "cancelled" and queue.position(third) == 1
    queue.cancel(first)  # running: its next progress report raises
    assert first.wait(5) and first.state == "cancelled"
    assert third.wait(5) and third.state == "finished"
    assert order == ["a", "c"]
    release.set()


def test_cancel_session_cancels_only_its_jobs() -> None:
    queue = JobQueue(concurrency=1)
    gate = threading.Event()
    blocker = queue.submit(Job("a", "other", work=lambda job: gate.wait(5)))
    mine = queue.submit(Job("a", "me", work=lambda job: None))
    theirs = queue.submit(Job("a", "other", work=lambda job: None))
    assert queue.cancel_session("me", "a") == [mine]
    gate.set()
    assert blocker.wait(5) and theirs.wait(5)
    assert (blocker.state, mine.state, theirs.state) == ("finished", "cancelled", "finished")


def test_a_failing_job_is_one_line_and_the_queue_goes_on() -> None:
    queue = JobQueue(concurrency=1)

    def boom(job: Job) -> None:
        raise InputError("photo.png: cannot read it\nsecond line")

    bad = queue.submit(Job("a", "s", work=boom))
    good = queue.submit(Job("a", "s", work=lambda job: 1))
    assert bad.wait(5) and good.wait(5)
    assert bad.state == "failed" and "cannot read it" in bad.message
    assert good.state == "finished"
    html_text = status_html("a", bad, 0, 0)
    assert 'data-state="failed"' in html_text and "Traceback" not in html_text


def test_job_report_raises_once_cancelled() -> None:
    job = Job("a", "s", work=lambda job: None)
    job.report(_update())
    job._stop.set()
    with pytest.raises(JobCancelled):
        job.report(_update())


def _update() -> Any:
    from easel.progress import ProgressUpdate

    return ProgressUpdate("work", 1, 2)


def _until(condition: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


# ---------------------------------------------------------------- runs, records, gallery


def test_a_run_saves_its_result_and_record_even_when_the_page_goes_away(
    studio: Studio, tmp_path: Path
) -> None:
    photo = str(_photo(tmp_path / "photo.png"))
    watching = studio.watch("quantize", "s", _values(studio, "quantize", [photo], n_colors=4))
    first = next(watching)
    assert "easel quantize image.png --colors 4 -o quantize.png --palette palette.png" == first["command"]
    watching.close()  # the browser went away
    jobs = list(studio.queue._jobs.values())
    assert len(jobs) == 1 and jobs[0].wait(60) and jobs[0].state == "finished"
    (folder,) = studio.outputs.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "image.png",
        "palette.png",
        "quantize.png",
        "quantize.png.json",
    ]
    record = json.loads((folder / "quantize.png.json").read_text())
    assert record["command"] == "quantize" and record["status"] == "finished"
    assert record["argv"] == [
        "quantize",
        "image.png",
        "--colors",
        "4",
        "-o",
        "quantize.png",
        "--palette",
        "palette.png",
    ]
    assert record["options"]["n_colors"] == 4 and record["inputs"] == ["image.png"]
    assert (record["options"]["image"], record["options"]["output"]) == ("image.png", "quantize.png")
    assert record["options"]["palette"] == "palette.png"
    assert len(record["palette"]) == 4
    (listed,) = gallery_records(studio.outputs)
    assert listed["files"] == {"image": folder / "quantize.png", "palette": folder / "palette.png"}


def test_a_failed_run_leaves_no_folder_and_shows_one_line(studio: Studio, tmp_path: Path) -> None:
    photo = str(_photo(tmp_path / "photo.png"))
    items = list(studio.watch("depth", "s", _values(studio, "depth", [photo, None])))  # no depth weights here
    last = items[-1]
    assert 'data-state="failed"' in last["status"] and "weights" in last["status"]
    assert "Traceback" not in last["status"] and last["results"] == {}
    assert list(studio.outputs.iterdir()) == []


def test_depth_run_writes_a_3d_view(studio: Studio, tmp_path: Path) -> None:
    import trimesh

    items = list(studio.watch("depth", "s", _values(studio, "depth", _kenburns_inputs(tmp_path))))
    results = items[-1]["results"]
    assert set(results) == {"depth", "preview", "glb"}
    cloud = trimesh.load(results["glb"])
    points = next(iter(cloud.geometry.values())).vertices
    depth = np.load(results["depth"])
    assert len(points) == depth.size
    assert np.allclose(
        sorted(-points[:, 2])[:: len(points) // 7], sorted(depth.ravel())[:: len(points) // 7], rtol=1e-4
    )


def test_gallery_skips_foreign_and_broken_records(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "x.png.json").write_text("{broken")
    (out / "b").mkdir()
    (out / "b" / "y.png.json").write_text(
        json.dumps({"command": "quantize"})
    )  # a CLI record: not the studio's
    (out / "c").mkdir()
    (out / "c" / "z.png").write_bytes(b"png")
    (out / "c" / "z.png.json").write_text(
        json.dumps(
            {"command": "quantize", "created": "2026", "studio": {"results": {"image": "z.png", "x": "../y"}}}
        )
    )
    (listed,) = gallery_records(out)
    assert listed["files"] == {"image": out / "c" / "z.png"}


def test_weights_arg() -> None:
    from easel.cli.serve import weights_arg

    assert weights_arg("vgg19-caffe=./v.pth") == ("vgg19-caffe", Path("v.pth"))
    with pytest.raises(argparse.ArgumentTypeError):
        weights_arg("=x")


def test_a_video_over_the_length_limit_is_refused(tmp_path: Path) -> None:
    studio = Studio(StudioSettings(tmp_path / "out", temp=tmp_path / "tmp", limits=Limits(max_video_s=0.4)))
    clip = str(_video(tmp_path / "clip.mp4", num_frames=4, fps=8.0))  # 0.5 s
    photo = str(_photo(tmp_path / "photo.png"))
    with pytest.raises(InputError, match="^Video: 0.5 s is longer than the studio's limit of 0.4 s$"):
        studio.prepare("stylize-video", "s", _values(studio, "stylize-video", [clip, [photo]]))
    assert list(studio.outputs.iterdir()) == []


def test_server_weights_follow_the_chosen_model(studio: Studio, tmp_path: Path) -> None:
    photo = str(_photo(tmp_path / "photo.png"))
    vgg = tmp_path / "vgg.pth"
    vgg.write_bytes(b"weights")
    studio.settings.weights = {"vgg19-caffe": vgg}
    uploads = [photo, [photo]]
    caffe = studio.prepare("stylize", "s", _values(studio, "stylize", uploads))
    other = studio.prepare("stylize", "s", _values(studio, "stylize", uploads, model="vgg19-torchvision"))
    assert next(iter(caffe.run.options.values())).weights == vgg
    assert "--weights" in caffe.argv and "--weights" not in other.argv
    assert next(iter(other.run.options.values())).weights is None


TINY_RUNS: dict[str, dict[str, Any]] = {
    "quantize": {"n_colors": 3},
    "superpixels": {"n_segments": 12},
    "stylize": {"size": 32, "iterations": 3, "coarse_iterations": 2, "precision": "fp32"},
    "stylize-video": {"size": 48, "iterations": 2, "iterations_first": 3, "precision": "fp32"},
    "dream": {"octaves": 1, "iterations": 3, "precision": "fp32", "tile_size": 64},
    "depth": {},
    "kenburns": {"duration_s": 0.4, "fps": 5.0, "shift": "0.03,0"},
    "photo3d": {"frames": 3},
    "flythrough": {
        "steps": 3,
        "size": 32,
        "width": 2,
        "levels": 2,
        "holdout_every": 4,
        "seconds": 0.5,
        "fps": 4.0,
    },
}


@pytest.mark.parametrize("tab", list(TINY_RUNS))
def test_every_tab_runs_and_keeps_its_results(
    tab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easel.nets.vgg import save_random_vgg19

    monkeypatch.setenv("EASEL_HOME", str(tmp_path / "home"))
    vgg = save_random_vgg19(tmp_path / "vgg19-tiny.pth", widths=(8, 8, 12, 12) + (16,) * 12, seed=0)
    studio = Studio(StudioSettings(tmp_path / "out", temp=tmp_path / "tmp", weights={"vgg19-caffe": vgg}))
    assert set(TINY_RUNS) == set(studio.tabs)
    photo = str(_photo(tmp_path / "photo.png", shape=(40, 48)))
    scene = _kenburns_inputs(tmp_path)
    uploads = {
        "quantize": [photo],
        "superpixels": [photo],
        "stylize": [photo, [photo]],
        "stylize-video": [str(_video(tmp_path / "clip.mp4", num_frames=2)), [photo]],
        "dream": [photo, None],
        "depth": scene,
        "kenburns": scene,
        "photo3d": scene,
        "flythrough": _flythrough_inputs(tmp_path) if tab == "flythrough" else [],
    }[tab]
    items = list(studio.watch(tab, "s", _values(studio, tab, uploads, **TINY_RUNS[tab])))
    last = items[-1]
    assert 'data-state="finished"' in last["status"], last["status"]
    expected = {r.key for r in studio.tabs[tab].results}
    assert set(last["results"]) == expected and all(p.stat().st_size > 0 for p in last["results"].values())
    (folder,) = studio.outputs.iterdir()
    record = json.loads(next(folder.glob("*.json")).read_text())
    assert record["command"] == tab and record["status"] == "finished"
    assert record["argv"][0] == tab and record["studio"]["results"] == {
        r.key: r.filename for r in studio.tabs[tab].results
    }


def test_the_flythrough_tab_fits_with_the_held_out_psnr_then_renders(
    studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    seen: list[Any] = []
    report = Job.report
    monkeypatch.setattr(Job, "report", lambda job, update: (seen.append(update), report(job, update))[1])
    changed = {"steps": 4, "eval_every": 2, "seconds": 1.0, "fps": 6.0, "seed": 5}
    values = _values(
        studio, "flythrough", _flythrough_inputs(tmp_path), **{**TINY_RUNS["flythrough"], **changed}
    )
    last = list(studio.watch("flythrough", "s", values))[-1]
    assert 'data-state="finished"' in last["status"], last["status"]
    fits = [u for u in seen if u.stage == "fit"]
    assert fits[-1].step == 4 and any("held-out PSNR" in u.metrics for u in fits)
    assert [u.step for u in seen if u.stage == "frames"][-1] == 6
    (folder,) = studio.outputs.iterdir()
    record = json.loads((folder / "scene.json").read_text())
    assert record["steps"] == 4 and record["frames"] == 6 and np.isfinite(record["heldout_psnr"])
    assert [a[:2] for a in record["argvs"]] == [["flythrough", "fit"], ["flythrough", "render"]]
    # one seed for the run; the render's own size and device next to the fit's
    assert record["options"]["seed"] == 5 and record["options"]["size"] == 32
    assert "render.size" in record["options"] and "fit.seed" not in record["options"]
    assert [p.name for p in last["downloads"]] == ["flythrough.mp4", "scene.zip", "scene.json"]
    with zipfile.ZipFile(last["results"]["archive"]) as zf:
        assert {"scene/model.pt", "scene/config.json", "scene/metrics.json"} <= set(zf.namelist())
    assert main(["flythrough", "eval", str(folder / "scene"), "-q"]) == 0  # the CLI reads the studio's scene
    assert last.get("preview") is not None


def test_session_folders_stay_inside_the_studio(studio: Studio) -> None:
    for session in ("abc123", "../../etc", "/etc/passwd", "..", "", "a/../../b", "x" * 500):
        folder = studio.session_folder(session)
        assert folder.parent == studio.sessions and inside(folder, [studio.sessions]), session
        studio.end_session(session)
        assert not folder.exists()
    assert studio.sessions.is_dir() and studio.temp.is_dir()


def test_previews_survive_a_page_that_went_away(studio: Studio) -> None:
    from easel.web.tabs import Run

    job = Job("stylize", "gone", work=lambda job: None)
    run = Run({}, {}, {}, job, Limits(), studio.session_folder("gone"))
    image = np.zeros((8, 8, 3), np.float32)
    first = run.preview(image)
    studio.end_session("gone")  # the page closed: its folder went
    second = run.preview(image)
    assert first is not None and second is not None and second.is_file() and job.preview == second
    assert not first.exists()
