"""The demo gallery: run each command on bundled samples and write an HTML page.

Every CLI command module may define ``demo(gallery: Gallery) -> None``; ``easel
demo`` calls each in turn. A demo writes its sample inputs with
:meth:`Gallery.sample`, runs the real CLI with :meth:`Gallery.run` (so the page
shows the exact command that made each output) and the page is written at the
end with :meth:`Gallery.write_html`. The sample photos themselves come from
:mod:`easel.samples`, in the library.
"""

from __future__ import annotations

import html
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from easel.cli._common import Terminated
from easel.io.atomic import write_text_atomic
from easel.io.images import write_image
from easel.samples import sample_image

__all__ = ["QUICK_CAPS", "QUICK_SIDE", "Gallery", "GalleryEntry", "quick_args"]

_MEDIA_IMAGE = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_MEDIA_VIDEO = (".mp4", ".webm")

QUICK_SIDE = 96
"""Long side (px) of the sample photos in a quick gallery."""
QUICK_CAPS: dict[str, float] = {
    "--size": 64,
    "--min-scale": 32,
    "--iterations": 2,
    "--coarse-iterations": 2,
    "--duration": 0.5,
    "--fps": 6,
    "-n": 100,
}
"""In a quick gallery, numeric options above these values are lowered to them."""


@dataclass
class GalleryEntry:
    """One card of the gallery: a command, its inputs and outputs.

    Attributes:
        section: the heading it is shown under (``"Colour quantization"``).
        title: the card's title.
        command: the command line as shown (paths relative to the gallery).
        inputs: input files shown on the card.
        outputs: output files shown on the card.
        note: one explanatory sentence, or ``""``.
        seconds: how long the command took.

    Example:
        >>> command = "easel quantize a.png -k 8 -o b.png"
        >>> GalleryEntry("Quantize", "8 colours", command, [Path("a.png")], [Path("b.png")])
        ... # doctest: +ELLIPSIS
        GalleryEntry(section='Quantize', ...)
    """

    section: str
    title: str
    command: str
    inputs: list[Path]
    outputs: list[Path]
    note: str = ""
    seconds: float = 0.0


@dataclass
class Gallery:
    """Collects demo results under ``out_dir`` and renders ``index.html``.

    Attributes:
        out_dir: the gallery folder; inputs go to ``out_dir/inputs``.
        quiet: run the commands with ``--quiet``.
        quick: a smoke test in seconds: sample photos at most ``QUICK_SIDE`` px and
            the numeric options in ``QUICK_CAPS`` lowered (``easel demo --quick``).
        entries: the cards made so far.
        failures: one line per command that failed.

    Example:
        >>> gallery = Gallery(Path("outputs/demo"))                      # doctest: +SKIP
        >>> photo = gallery.sample("astronaut", max_size=256)            # doctest: +SKIP
        >>> out = gallery.path("poster.png")                             # doctest: +SKIP
        >>> argv = ["quantize", str(photo), "-k", "8", "-o", str(out)]  # doctest: +SKIP
        >>> gallery.run("Quantize", "8 colours", argv, inputs=[photo], outputs=[out])  # doctest: +SKIP
        True
        >>> gallery.write_html()                                         # doctest: +SKIP
        PosixPath('outputs/demo/index.html')
    """

    out_dir: Path
    quiet: bool = True
    quick: bool = False
    entries: list[GalleryEntry] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        (self.out_dir / "inputs").mkdir(parents=True, exist_ok=True)

    def sample(self, name: str, max_size: int | None = None) -> Path:
        """Write sample ``name`` as ``inputs/<name>.png`` (once) and return its path."""
        path = self.out_dir / "inputs" / f"{name}.png"
        if self.quick:
            max_size = min(max_size or QUICK_SIDE, QUICK_SIDE)
        if not path.exists():
            image = sample_image(name)
            if max_size is not None:
                from easel.image import fit_long_side, resize

                image = resize(image, fit_long_side(image.shape[:2], max_size))
            write_image(path, image)
        return path

    def add_input(self, filename: str, image: np.ndarray) -> Path:
        """Write a generated input (a synthetic scene, a mask) under ``inputs/``."""
        path = self.out_dir / "inputs" / filename
        write_image(path, image)
        return path

    def path(self, filename: str) -> Path:
        """Where a demo output called ``filename`` goes."""
        return self.out_dir / filename

    def vgg19(self, what_differs: str) -> tuple[list[str], str]:
        """The ``--weights`` arguments and the note for a demo on VGG-19.

        The real Caffe VGG-19 when it is cached (no arguments); otherwise a
        random-initialized one in the real format, made once in the gallery, and
        a note that says so and what it changes (``what_differs``).
        """
        from easel import weights
        from easel.nets.vgg import save_random_vgg19

        if weights.is_present("vgg19-caffe"):
            return [], "Caffe VGG-19 weights."
        path = self.path("vgg19-random-init.pth")
        if not path.exists():
            save_random_vgg19(path, seed=0)
        note = (
            "ENCODER IS A RANDOM-INITIALIZED VGG-19 (real weights not cached: `easel weights download "
            f"vgg19-caffe`), so {what_differs}."
        )
        return ["--weights", str(path)], note

    def run(
        self,
        section: str,
        title: str,
        args: list[str],
        inputs: list[Path],
        outputs: list[Path],
        note: str = "",
    ) -> bool:
        """Run ``easel ARGS`` in-process and record the result; return whether it worked.

        Raises:
            KeyboardInterrupt: the command was interrupted (exit 130; :class:`Terminated`
                for SIGTERM, exit 143): the demo stops rather than going on to the next one.
        """
        from easel.cli import main

        if self.quick:
            args = quick_args(args)
        argv = [*args, "--overwrite"]
        if self.quiet:
            argv.append("--quiet")
        start = time.perf_counter()
        code = main(argv)
        seconds = time.perf_counter() - start
        if code in (130, 143):  # the command caught Ctrl-C or SIGTERM: pass it on
            raise Terminated() if code == 143 else KeyboardInterrupt()
        shown = "easel " + " ".join(shlex.quote(self._rel(a)) for a in args)
        if code != 0:
            self.failures.append(f"{shown} (exit {code})")
            return False
        self.entries.append(GalleryEntry(section, title, shown, inputs, outputs, note, seconds))
        return True

    def _rel(self, arg: str) -> str:
        try:
            return os.path.relpath(arg, self.out_dir) if Path(arg).is_absolute() or os.sep in arg else arg
        except ValueError:
            return arg

    def _media(self, path: Path) -> str:
        rel = html.escape(os.path.relpath(path, self.out_dir))
        suffix = path.suffix.lower()
        if suffix in _MEDIA_IMAGE:
            return f'<a href="{rel}"><img src="{rel}" loading="lazy" alt="{rel}"></a>'
        if suffix in _MEDIA_VIDEO:
            return f'<video src="{rel}" controls loop muted autoplay playsinline></video>'
        return f'<a class="file" href="{rel}">{rel}</a>'

    def write_html(self) -> Path:
        """Write ``index.html``: each input beside its outputs, with the command that made them."""
        sections: dict[str, list[GalleryEntry]] = {}
        for entry in self.entries:
            sections.setdefault(entry.section, []).append(entry)
        parts = [
            "<!doctype html><html lang=en><meta charset=utf-8>",
            "<title>easel demo gallery</title>",
            "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;background:#fafafa}"
            "figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
            "img,video{max-width:360px;max-height:300px;border:1px solid #ccc;background:#fff}"
            "pre{background:#222;color:#eee;padding:.6em;border-radius:4px;white-space:pre-wrap}"
            ".card{background:#fff;padding:1em;margin-bottom:1.5em;border-radius:6px;"
            "box-shadow:0 1px 3px #0002}.note{color:#555}</style>",
            "<h1>easel demo gallery</h1>",
            f"<p>Made by <code>easel demo</code> on {time.strftime('%Y-%m-%d %H:%M')}. "
            "Each card shows the inputs, the outputs and the command that made them.</p>",
        ]
        if self.failures:
            items = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in self.failures)
            parts.append(f"<h2>Failed</h2><ul>{items}</ul>")
        for section, entries in sections.items():
            parts.append(f"<h2>{html.escape(section)}</h2>")
            for entry in entries:
                figures = [
                    f"<figure>{self._media(p)}<figcaption>input: {html.escape(p.name)}</figcaption></figure>"
                    for p in entry.inputs
                ] + [
                    f"<figure>{self._media(p)}<figcaption>output: {html.escape(p.name)}</figcaption></figure>"
                    for p in entry.outputs
                ]
                note = f"<p class=note>{html.escape(entry.note)}</p>" if entry.note else ""
                parts.append(
                    f"<div class=card><h3>{html.escape(entry.title)}</h3>{note}"
                    f"<pre>{html.escape(entry.command)}</pre>{''.join(figures)}"
                    f"<p class=note>{entry.seconds:.1f} s</p></div>"
                )
        path = self.out_dir / "index.html"
        write_text_atomic(path, "\n".join(parts) + "\n</html>\n")
        return path


def quick_args(args: list[str]) -> list[str]:
    """``args`` with the values of the options in ``QUICK_CAPS`` lowered to their caps.

    Example:
        >>> quick_args(["stylize", "a.png", "--size", "512", "--iterations", "1"])
        ['stylize', 'a.png', '--size', '64', '--iterations', '1']
    """
    out = list(args)
    for index in range(len(out) - 1):
        cap = QUICK_CAPS.get(out[index])
        if cap is None:
            continue
        try:
            value = float(out[index + 1])
        except ValueError:  # not a plain number (kenburns' --size 1280x720): kept
            continue
        if value > cap:
            out[index + 1] = f"{cap:g}"
    return out
