"""The studio in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

One studio server on the loopback address serves every test of this module, with
a tiny random VGG-19 for stylize (as ``test_contract`` builds it) and small limits
so that over-limit uploads are cheap to make. Screenshots of every tab are saved
as artifacts under ``$EASEL_ARTIFACTS`` (default: the system's temporary folder,
``artifacts/studio``).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from easel.io.images import write_image
from easel.web import Limits, Studio, StudioSettings, start
from easel.web.server import Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("EASEL_ARTIFACTS") or Path(tempfile.gettempdir()) / "artifacts") / "studio"
TIMEOUT_MS = 180_000  # generous: the 2-core test machines are often shared

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),  # see conftest
    # the sockets and event loop that Playwright's driver and Gradio's server leave to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # Gradio's queue statistics and Dataframe use pandas options that pandas 3 deprecates
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


def _chromium() -> Path | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else (CHROMIUM if CHROMIUM.exists() else None)


@dataclass
class Site:
    server: Server
    files: Path
    browser: Any

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def outputs(self) -> Path:
        return self.server.studio.outputs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium browser")
    from playwright.sync_api import sync_playwright

    from easel.nets.vgg import save_random_vgg19

    root = tmp_path_factory.mktemp("studio")
    files = root / "files"
    files.mkdir()
    rng = np.random.default_rng(0)
    write_image(files / "photo.png", rng.random((48, 64, 3)).astype(np.float32))
    write_image(files / "style.png", rng.random((48, 48, 3)).astype(np.float32))
    write_image(files / "noise.png", rng.random((300, 300, 3)).astype(np.float32))  # ~270 kB: over 0.2 MB
    write_image(files / "wide.png", np.zeros((800, 800, 3), np.float32))  # 0.64 MP in a few kB: over 0.5 MP
    vgg = save_random_vgg19(files / "vgg19-tiny.pth", widths=(8, 8, 12, 12) + (16,) * 12, seed=0)
    _depth_inputs(files)
    _flythrough_inputs(files)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EASEL_HOME", str(root / "easel-home"))
        studio = Studio(
            StudioSettings(
                root / "outputs",
                temp=root / "temp",
                limits=Limits(max_upload_mb=0.2, max_megapixels=0.5),
                weights={"vgg19-caffe": vgg},
            )
        )
        server = start(studio, port=_free_port())
        with sync_playwright() as playwright:
            # WebGL (the 3D views) runs on SwiftShader, Chromium's software GPU; newer Chromiums
            # want it asked for by name
            browser = playwright.chromium.launch(
                executable_path=str(chromium),
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--use-angle=swiftshader",
                    "--enable-unsafe-swiftshader",
                ],
            )
            try:
                yield Site(server, files, browser)
            finally:
                browser.close()
                server.close()
        gc.collect()  # now, under this module's warning filters, not in whatever test runs next


def _depth_inputs(files: Path) -> None:
    """A photo of boxes before a wall and its exact depth (no depth network needed)."""
    from easel.cameras import Camera
    from easel.scene3d.synthetic import layered_scene

    scene, cam = layered_scene(96, 72)
    view = scene.render(Camera(cam))
    write_image(files / "scene.png", view.image)
    np.save(files / "scene.npy", view.depth)


def _flythrough_inputs(files: Path) -> None:
    """Six photos of a synthetic scene and their COLMAP model (exact cameras, text files)."""
    from easel.flythrough.synthetic import write_synthetic_scene

    write_synthetic_scene(files / "fly", 6, (24, 32), points=2000, supersample=1)


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    context = site.browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(site.url)
    page.wait_for_selector("#quantize-run")
    yield page
    context.close()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _state(page: Any, tab: str) -> Any:
    return page.locator(f"#{tab}-state")


def _wait_state(page: Any, tab: str, state: str) -> None:
    page.wait_for_selector(f"#{tab}-state[data-state={state}]")


def _open(page: Any, title: str) -> None:
    page.get_by_role("tab", name=title, exact=True).click()


def _stylize_form(page: Any, site: Site, iterations: int) -> None:
    _open(page, "Stylize")
    page.locator("#stylize-image input[type=file]").set_input_files(str(site.files / "photo.png"))
    page.locator("#stylize-styles input[type=file]").set_input_files([str(site.files / "style.png")])
    page.locator("#stylize-size input").fill("48")
    page.locator("#stylize-iterations input").fill(str(iterations))


def test_upload_quantize_and_download(page: Any, site: Site, tmp_path: Path) -> None:
    page.locator("#quantize-image input[type=file]").set_input_files(str(site.files / "photo.png"))
    page.locator("#quantize-n-colors input").fill("5")
    page.click("#quantize-run")
    _wait_state(page, "quantize", "finished")
    command = page.locator("#quantize-command textarea, #quantize-command input").first.input_value()
    assert command == "easel quantize image.png --colors 5 -o quantize.png --palette palette.png"
    assert page.locator("#quantize-result-image img").count() == 1
    link = page.locator("#quantize-downloads a[download='quantize.png']")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    (kept,) = site.outputs.glob("*-quantize-*/quantize.png")
    assert saved.read_bytes() == kept.read_bytes()
    from PIL import Image

    assert len(Image.open(saved).convert("RGB").getcolors()) <= 5
    _shot(page, "quantize")


def test_stylize_shows_progress_previews_and_the_final_image(page: Any, site: Site) -> None:
    _stylize_form(page, site, iterations=60)
    page.click("#stylize-run")
    page.wait_for_selector("#stylize-state[data-state=running][data-step] progress")
    page.wait_for_selector("#stylize-preview img")
    _shot(page, "stylize-running")
    _wait_state(page, "stylize", "finished")
    page.wait_for_selector("#stylize-result-image img")
    command = page.locator("#stylize-command textarea, #stylize-command input").first.input_value()
    assert command.startswith("easel stylize image.png --style styles-1.png --size 48 --iterations 60")
    (kept,) = site.outputs.glob("*-stylize-*/stylize.png")
    assert kept.with_name("stylize.png.json").is_file()
    _shot(page, "stylize")


def test_over_limit_uploads_show_a_message(page: Any, site: Site) -> None:
    before = sorted(site.outputs.iterdir())
    page.locator("#quantize-image input[type=file]").set_input_files(str(site.files / "noise.png"))
    toast = page.get_by_text("exceed the maximum allowed size")
    toast.first.wait_for()
    page.reload()
    page.locator("#quantize-image input[type=file]").set_input_files(str(site.files / "wide.png"))
    page.click("#quantize-run")
    _wait_state(page, "quantize", "error")
    text = _state(page, "quantize").inner_text()
    assert "800x800 is 0.64 megapixels; the studio accepts up to 0.5" in text
    assert "Traceback" not in page.content()
    assert sorted(site.outputs.iterdir()) == before
    _shot(page, "over-limit")


def test_queued_jobs_show_their_positions_and_cancel_works(site: Site) -> None:
    pages = []
    contexts = []
    for _ in range(3):
        context = site.browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(site.url)
        page.wait_for_selector("#quantize-run")
        contexts.append(context)
        pages.append(page)
    try:
        long_job, second, third = pages
        _stylize_form(long_job, site, iterations=5000)
        long_job.click("#stylize-run")
        long_job.wait_for_selector("#stylize-state[data-state=running]")
        for page in (second, third):
            page.locator("#quantize-image input[type=file]").set_input_files(str(site.files / "photo.png"))
            page.click("#quantize-run")
            _wait_state(page, "quantize", "queued")
        assert second.locator("#quantize-state").get_attribute("data-position") == "1"
        assert third.locator("#quantize-state").get_attribute("data-position") == "2"
        assert "Queued: position 2" in third.locator("#quantize-state").inner_text()
        _shot(third, "queued")
        third.click("#quantize-cancel")  # a waiting job leaves the queue
        _wait_state(third, "quantize", "cancelled")
        long_job.click("#stylize-cancel")  # a running job stops at its next step
        _wait_state(long_job, "stylize", "cancelled")
        _wait_state(second, "quantize", "finished")  # the queue moved on
        assert "Cancelled" in long_job.locator("#stylize-state").inner_text()
        _shot(long_job, "cancelled")
    finally:
        for context in contexts:
            context.close()
    quantized = list(site.outputs.glob("*-quantize-*/quantize.png.json"))
    assert len(quantized) >= 1
    # the cancelled stylize kept the image it had reached, and its record says how it ended
    statuses = [
        json.loads(p.read_text())["status"] for p in site.outputs.glob("*-stylize-*/stylize.png.json")
    ]
    assert {"stopped", "interrupted"} & set(statuses), statuses


def _drawn_pixels(page: Any, canvas: Any) -> int:
    """Pixels in the middle of the canvas (away from the label and buttons over it) unlike its background."""
    import io

    from PIL import Image

    box = canvas.bounding_box()
    clip = {
        "x": box["x"] + 0.15 * box["width"],
        "y": box["y"] + 0.15 * box["height"],
        "width": 0.7 * box["width"],
        "height": 0.7 * box["height"],
    }
    pixels = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")).astype(np.int32)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    return int((np.abs(pixels - background).sum(axis=2) > 24).sum())


def test_the_depth_tabs_3d_view_draws(page: Any, site: Site) -> None:
    """The point cloud shows in the 3D view: a WebGL canvas with pixels that are not its background."""
    import time

    _open(page, "Depth")
    page.locator("#depth-image input[type=file]").set_input_files(str(site.files / "scene.png"))
    page.locator("#depth-depth input[type=file]").set_input_files(str(site.files / "scene.npy"))
    page.click("#depth-run")
    _wait_state(page, "depth", "finished")
    canvas = page.locator("#depth-result-glb canvas")
    canvas.wait_for()
    assert page.evaluate("() => !!document.createElement('canvas').getContext('webgl2')")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while (drawn := _drawn_pixels(page, canvas)) < 500 and time.monotonic() < deadline:
        time.sleep(0.5)  # the viewer loads its code and the file, then draws
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    canvas.screenshot(path=str(ARTIFACTS / "depth-3d-view.png"))
    _shot(page, "depth-3d")
    assert drawn >= 500, f"the 3D view drew {drawn} pixels"


def test_the_flythrough_tab_fits_with_the_held_out_psnr_and_renders(page: Any, site: Site) -> None:
    fly = site.files / "fly"
    _open(page, "Fly-through")
    page.locator("#flythrough-photos input[type=file]").set_input_files(
        sorted(map(str, (fly / "images").iterdir()))
    )
    page.locator("#flythrough-colmap input[type=file]").set_input_files(
        sorted(map(str, (fly / "sparse" / "0").iterdir()))
    )
    page.locator("#flythrough-steps input").fill("12")
    page.locator("#flythrough-seconds input").fill("1")
    page.locator("#flythrough-fps input").fill("4")
    page.locator("#flythrough-advanced").get_by_text("Advanced").click()
    for name, value in (("eval-every", "4"), ("width", "2"), ("levels", "2")):
        page.locator(f"#flythrough-{name} input").fill(value)
    page.click("#flythrough-run")
    # a tiny fit may pass through "running" between two polls: wait for its end, whichever it is
    page.wait_for_selector(
        ", ".join(f"#flythrough-state[data-state={s}]" for s in ("finished", "failed", "error"))
    )
    assert _state(page, "flythrough").get_attribute("data-state") == "finished", _state(
        page, "flythrough"
    ).inner_text()
    assert "Finished: held-out PSNR" in _state(page, "flythrough").inner_text()
    page.wait_for_selector("#flythrough-result-clip video")
    command = page.locator("#flythrough-command textarea").first.input_value()
    fit, render = command.splitlines()
    assert fit.startswith("easel flythrough fit photos --colmap colmap --steps 12")
    assert "--width 2 --levels 2" in fit and "--eval-every 4" in fit and fit.endswith("-o scene")
    assert render == "easel flythrough render scene --seconds 1 --fps 4 -o flythrough.mp4"
    assert page.locator("#flythrough-downloads a[download='scene.zip']").count() == 1
    (record,) = site.outputs.glob("*-flythrough-*/scene.json")
    data = json.loads(record.read_text())
    assert data["status"] == "finished" and data["frames"] == 4 and np.isfinite(data["heldout_psnr"])
    assert sorted(p.name for p in (record.parent / "photos").iterdir()) == [
        f"view_{i:03d}.png" for i in range(6)
    ]
    _shot(page, "flythrough")


def test_screenshots_of_every_tab_and_the_gallery(page: Any, site: Site) -> None:
    from easel.web.app import gallery_records

    studio = site.server.studio
    fields = studio.fields["superpixels"]
    values = [str(site.files / "photo.png"), *[f.initial for f in fields]]
    assert list(studio.watch("superpixels", "from-python", values))[-1]["results"]  # one result at least
    for tab in studio.settings.tabs:
        _open(page, tab.title)
        page.wait_for_selector(f"#{tab.name}-run", state="visible")
        _shot(page, f"tab-{tab.name}")
    _open(page, "Gallery")
    page.click("#gallery-refresh")
    (mosaic,) = [r for r in gallery_records(site.outputs) if r["command"] == "superpixels"]
    page.locator("#gallery-table").get_by_text(mosaic["folder"].name).first.wait_for(state="attached")
    page.wait_for_selector("#gallery-images img")
    _shot(page, "tab-gallery")
