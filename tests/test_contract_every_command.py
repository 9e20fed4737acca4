"""The command-line contract over EVERY command ``easel.cli.command_modules()`` discovers.

``COMMANDS`` below holds one entry per command: a good, fast run, the files it
writes (each under the option that names it), its inputs, and which outputs may
not be which inputs. A command without an entry fails
:func:`test_every_command_has_an_entry`, so a new command is covered as soon as
it lands. For each command:

* a good run exits 0 and writes its declared outputs and nothing else;
* an existing output (each one in turn, the run record included) is refused
  without ``--overwrite``: exit 2, one line naming it, nothing changed;
* with ``--overwrite`` every existing output is replaced;
* an output that is an input (also spelled through ``..``) is refused even with
  ``--overwrite``: exit 2, one line, the input untouched;
* Ctrl-C (exit 130) or SIGTERM (exit 143) during the work leaves no temporary
  file, and any record written says ``"status": "interrupted"``;
* a command that reads images or depth maps is in the bad-input corpus tables
  of ``test_contract.py`` (every bad file: exit 2, one line, nothing written).
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from easel.cli import command_modules, main
from easel.cli._common import CommandContext, Terminated

# the corpus fixture (good and bad files, a tiny VGG-19) and the folder snapshot are test_contract's
from test_contract import DEPTH_COMMANDS, IMAGE_COMMANDS, Corpus, command_of, corpus, snapshot  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest

SENTINEL = b"an older file that must stay unless --overwrite is given\n"


@dataclass
class Case:
    """One test's folders: ``inputs`` (copies of the corpus files) and ``out``."""

    inputs: Path
    out: Path
    home: Path
    corpus: Corpus

    def input(self, name: str) -> Path:
        return self.inputs / name

    @property
    def watched(self) -> list[Path]:
        return [self.inputs, self.out, self.home, self.corpus.root]


@pytest.fixture
def case(corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Case:  # noqa: F811 (the fixture)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(corpus.photo, inputs / "photo.png")
    Image.open(corpus.photo).save(inputs / "photo.gif")
    shutil.copy(corpus.depth, inputs / "depth.npy")
    shutil.copy(corpus.photo, inputs / "style.png")
    out = tmp_path / "out"
    out.mkdir()
    home = tmp_path / "easel-home"
    home.mkdir()
    monkeypatch.setenv("EASEL_HOME", str(home))
    monkeypatch.delenv("EASEL_PROGRESS", raising=False)
    return Case(inputs, out, home, corpus)


Outputs = Callable[[Case], dict[str, Path]]
Argv = Callable[[Case, dict[str, Path]], list[str | Path]]


@dataclass(frozen=True)
class Entry:
    """How the contract applies to one command.

    Attributes:
        argv: a good, fast command line writing ``outputs`` (given as option -> path).
        outputs: option -> the file a good run writes there (``record``: the run
            record); ``None`` for a command that writes no file (then ``reason``).
        same_as_input: ``(output option, input file name)`` pairs an output may not be.
        image_cases: the ``test_contract.IMAGE_COMMANDS``/``DEPTH_COMMANDS`` keys
            that feed this command's image and depth inputs bad files.
        folders: output options whose path is the marker file of an output folder
            (everything under its parent belongs to the output).
        reason: why a part of the contract does not apply.
        interruptible: the good run reports progress at least twice (so a signal can
            arrive during the work); otherwise ``reason`` says why not.
    """

    argv: Argv
    outputs: Outputs | None
    same_as_input: tuple[tuple[str, str], ...] = ()
    image_cases: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    reason: str = ""
    interruptible: bool = True


def _stylize(c: Case, o: dict[str, Path]) -> list[str | Path]:
    return [
        "stylize",
        c.input("photo.png"),
        "--style",
        c.input("style.png"),
        "-o",
        o["-o"],
        "--animation",
        o["--animation"],
        "--weights",
        c.corpus.vgg,
        "--size",
        "32",
        "--iterations",
        "2",
        "--coarse-iterations",
        "2",
    ]


def _kenburns(c: Case, o: dict[str, Path]) -> list[str | Path]:
    return [
        "kenburns",
        c.input("photo.gif"),
        "--depth",
        c.input("depth.npy"),
        "-o",
        o["-o"],
        "--export-ply",
        o["--export-ply"],
        "--export-path",
        o["--export-path"],
        "--duration",
        "0.4",
        "--fps",
        "5",
        "--shift",
        "0.03,0",
    ]


COMMANDS: dict[str, Entry] = {
    "quantize": Entry(
        argv=lambda c, o: [
            "quantize",
            c.input("photo.png"),
            "-k",
            "4",
            "-o",
            o["-o"],
            "--palette",
            o["--palette"],
        ],
        outputs=lambda c: {
            "-o": c.out / "q.png",
            "--palette": c.out / "palette.png",
            "record": c.out / "q.png.json",
        },
        same_as_input=(("-o", "photo.png"), ("--palette", "photo.png")),
        image_cases=("quantize",),
    ),
    "superpixels": Entry(
        argv=lambda c, o: ["superpixels", c.input("photo.png"), "-n", "20", "-o", o["-o"]],
        outputs=lambda c: {"-o": c.out / "s.png", "record": c.out / "s.png.json"},
        same_as_input=(("-o", "photo.png"),),
        image_cases=("superpixels",),
    ),
    "stylize": Entry(
        argv=_stylize,
        outputs=lambda c: {
            "-o": c.out / "art.png",
            "--animation": c.out / "steps.gif",
            "record": c.out / "art.png.json",
        },
        same_as_input=(("-o", "photo.png"), ("-o", "style.png")),
        image_cases=("stylize-content", "stylize-style", "stylize-mask", "stylize-init"),
    ),
    "depth": Entry(
        argv=lambda c, o: [
            "depth",
            c.input("photo.png"),
            "--depth",
            c.input("depth.npy"),
            "-o",
            o["-o"],
            "--preview",
            o["--preview"],
        ],
        outputs=lambda c: {
            "-o": c.out / "d.npy",
            "--preview": c.out / "p.png",
            "record": c.out / "d.npy.json",
        },
        same_as_input=(("-o", "depth.npy"), ("--preview", "photo.png")),
        image_cases=("depth", "depth-preview", "depth-alone"),
        reason="reads the depth map quickly: no progress to interrupt",
        interruptible=False,
    ),
    "dream": Entry(
        argv=lambda c, o: [
            "dream",
            c.input("photo.png"),
            "-o",
            o["-o"],
            "--weights",
            c.corpus.vgg,
            "--iterations",
            "2",
        ],
        outputs=lambda c: {"-o": c.out / "dream.png", "record": c.out / "dream.png.json"},
        same_as_input=(("-o", "photo.png"),),
        image_cases=("dream",),
    ),
    "kenburns": Entry(
        argv=_kenburns,
        outputs=lambda c: {
            "-o": c.out / "clip.gif",
            "--export-ply": c.out / "cloud.ply",
            "--export-path": c.out / "path.json",
            "record": c.out / "clip.gif.json",
        },
        same_as_input=(("-o", "photo.gif"),),
        image_cases=("kenburns",),
    ),
    "photo3d": Entry(
        argv=lambda c, o: [
            "photo3d",
            c.input("photo.gif"),
            "--depth",
            c.input("depth.npy"),
            "-o",
            o["-o"],
            "--mesh",
            o["--mesh"],
            "--frames",
            "3",
        ],
        outputs=lambda c: {
            "-o": c.out / "clip.gif",
            "--mesh": c.out / "mesh.ply",
            "record": c.out / "clip.gif.json",
        },
        same_as_input=(("-o", "photo.gif"),),
        image_cases=("photo3d",),
    ),
    "stylize-video": Entry(
        argv=lambda c, o: [
            "stylize-video",
            c.input("photo.gif"),  # a 1-frame video
            "--style",
            c.input("style.png"),
            "-o",
            o["-o"],
            "--weights",
            c.corpus.vgg,
            "--size",
            "48",
            "--iterations-first",
            "2",
            "--coarse-iterations",
            "2",
        ],
        outputs=lambda c: {
            "-o": c.out / "clip.gif",
            "record": c.out / "clip.gif.json",
            "work": c.out / "clip.gif.frames" / "state.json",  # the resumable work folder
        },
        folders=("work",),
        same_as_input=(("-o", "photo.gif"), ("-o", "style.png")),
        image_cases=("stylize-video-input", "stylize-video-style"),
    ),
    "demo": Entry(
        argv=lambda c, o: ["demo", "-o", o["-o"].parent, "--only", "superpixels"],
        # the gallery is a folder; its page marks it as a gallery (kept unless --overwrite)
        outputs=lambda c: {"-o": c.out / "gallery" / "index.html"},
        folders=("-o",),
        reason="runs on bundled samples: it has no input files",
    ),
    "info": Entry(
        argv=lambda c, o: ["info"],
        outputs=None,
        reason="prints a report; writes no file and reads none",
        interruptible=False,
    ),
    "weights": Entry(
        argv=lambda c, o: ["weights", "list"],
        outputs=None,
        reason="writes only into the weights cache (downloads checked by sha256; no network in tests)",
        interruptible=False,
    ),
    "serve": Entry(
        # the good run is --help: a real run serves until Ctrl-C, so it is started by
        # tests/test_web_browser.py instead (results there are kept in job folders the studio
        # names itself, with run records); its refusals are tested in tests/test_web.py
        argv=lambda c, o: ["serve", "--help"],
        outputs=None,
        reason="a long-running server: it writes no file named on its command line (results go to new "
        "job folders under --outputs) and reads no input files; uploads are checked by the studio",
        interruptible=False,
    ),
    "batch": Entry(
        # one quantize job; the manifest is written beside the watched folders, then named
        argv=lambda c, o: (
            (c.inputs.parent / "batch.json").write_text(
                json.dumps(
                    {
                        "jobs": [
                            {
                                "command": "quantize",
                                "input": str(c.input("photo.png")),
                                "output": str(o["-o"]),
                            }
                        ]
                    }
                )
            )
            and ["batch", c.inputs.parent / "batch.json", "--report", o["--report"].parent, "--workers", "1"]
        ),
        outputs=lambda c: {
            "-o": c.out / "q.png",  # the job's output; its record is the job's, finished before an interrupt
            "job record": c.out / "q.png.json",
            "--report": c.out / "batch-summary.json",
            "--report page": c.out / "batch-report.html",
        },
        reason="runs other commands: a bad input fails its job (exit 1, reported per job), not the batch; "
        "test_batch.py checks that a job's output may not be an input",
    ),
}


def _flythrough(c: Case, o: dict[str, Path]) -> list[str | Path]:
    """``flythrough fit`` (its render/eval/export are tested in tests/test_flythrough_cli.py)."""
    from easel.flythrough.synthetic import write_synthetic_scene

    # photos and a COLMAP model, beside the watched folders (a fit reads a folder, not corpus files)
    data = write_synthetic_scene(c.inputs.parent / "flythrough", 4, (24, 32), points=2000, supersample=1)
    fit = ["flythrough", "fit", data.images_dir, "--colmap", data.model_dir, "-o", o["-o"].parent]
    return [*fit, "--steps", "3", "--size", "32", "--width", "2", "--levels", "2"]


COMMANDS["flythrough"] = Entry(
    argv=_flythrough,
    # the scene is a folder (model.pt marks it), its record SCENE.json beside it
    outputs=lambda c: {"-o": c.out / "scene" / "model.pt", "record": c.out / "scene.json"},
    folders=("-o",),
    reason="reads a folder of photos and a COLMAP model, not corpus files: output = input and bad "
    "photos or models are tested in tests/test_flythrough_cli.py",
)

WRITERS = sorted(name for name, entry in COMMANDS.items() if entry.outputs is not None)


def _outputs(name: str, c: Case) -> dict[str, Path]:
    outputs = COMMANDS[name].outputs
    return outputs(c) if outputs is not None else {}


def _argv(name: str, c: Case, outputs: dict[str, Path] | None = None, *extra: str) -> list[str]:
    entry = COMMANDS[name]
    return [str(a) for a in [*entry.argv(c, outputs if outputs is not None else _outputs(name, c)), *extra]]


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _stray(name: str, folder: Path, outputs: dict[str, Path]) -> list[str]:
    """Files under ``folder`` that are neither a declared output nor inside a declared output folder."""
    folders = [outputs[option].parent for option in COMMANDS[name].folders if option in outputs]
    declared = set(outputs.values())
    return sorted(
        str(p) for p in _files(folder) if p not in declared and not any(f in p.parents for f in folders)
    )


def _run(argv: Sequence[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def _assert_refused(code: int, err: str, argv: Sequence[str]) -> str:
    shown = " ".join(argv)
    assert code == 2, f"easel {shown}: exit {code}: {err!r}"
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0], f"easel {shown}: not one line on stderr: {err!r}"
    assert "Traceback" not in err and "usage:" not in err.lower(), err
    return lines[0]


# ---------------------------------------------------------------- the table itself


def test_every_command_has_an_entry() -> None:
    commands = {m.NAME for m in command_modules()}
    assert set(COMMANDS) == commands, (
        f"commands without an entry: {sorted(commands - set(COMMANDS))}; "
        f"entries without a command: {sorted(set(COMMANDS) - commands)}"
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_entry_says_why_a_part_does_not_apply(name: str) -> None:
    entry = COMMANDS[name]
    if entry.outputs is None or not entry.same_as_input or not entry.interruptible:
        assert entry.reason, f"{name}: say why a part of the contract does not apply"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_commands_that_read_images_are_in_the_bad_input_corpus(name: str) -> None:
    """Every image-reading command has rows in test_contract's tables (run there over every bad file)."""
    entry = COMMANDS[name]
    names = {m.NAME for m in command_modules()}
    tabled = {key for key in (*IMAGE_COMMANDS, *DEPTH_COMMANDS) if command_of(key, names) == name}
    assert tabled == set(entry.image_cases), (name, sorted(tabled))
    if entry.same_as_input:  # it reads files: then it must be in the corpus
        assert entry.image_cases, f"{name} reads input files but has no bad-input rows"


# ---------------------------------------------------------------- good runs


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_good_run_exits_0_and_writes_only_its_outputs(
    name: str, case: Case, capfd: pytest.CaptureFixture[str]
) -> None:
    before = {folder: snapshot(folder) for folder in (case.inputs, case.home, case.corpus.root)}
    outputs = _outputs(name, case)
    argv = _argv(name, case, outputs)
    code, _, err = _run(argv, capfd)
    assert code == 0, f"easel {' '.join(argv)}: exit {code}: {err!r}"
    for option, path in outputs.items():
        assert path.is_file() and path.stat().st_size > 0, f"{name} {option}: {path} not written"
    stray = _stray(name, case.out, outputs)
    assert not stray, f"{name} wrote undeclared files: {stray}"
    for folder, files in before.items():
        after = snapshot(folder)
        if folder == case.home:  # caches a run may fill (the measured precision); nothing else
            after = {k: v for k, v in after.items() if Path(k).name not in CACHE_FILES}
        assert after == files, f"{name} changed {folder}"


CACHE_FILES = {"precision.json"}
"""Files under ``EASEL_HOME`` that a good run may create: caches of measurements."""


# ---------------------------------------------------------------- existing outputs


def _options(name: str) -> list[str]:
    """The output options of a command (read from its entry with placeholder folders)."""
    placeholder = Case(Path("inputs"), Path("out"), Path("home"), corpus=None)  # type: ignore[arg-type]
    return list(_outputs(name, placeholder))


EXISTING = [(name, option) for name in WRITERS for option in _options(name)]


@pytest.mark.parametrize(("name", "option"), EXISTING)
def test_an_existing_output_is_refused_without_overwrite(
    name: str, option: str, case: Case, capfd: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(name, case)
    existing = outputs[option]
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_bytes(SENTINEL)
    before = {folder: snapshot(folder) for folder in case.watched}
    argv = _argv(name, case, outputs)
    code, _, err = _run(argv, capfd)
    line = _assert_refused(code, err, argv)
    assert existing.name in line or existing.parent.name in line, line
    assert "exists" in line or "already" in line, line
    for folder, files in before.items():
        assert snapshot(folder) == files, f"{name}: files changed in {folder}"


@pytest.mark.parametrize("name", WRITERS)
def test_overwrite_replaces_every_existing_output(
    name: str, case: Case, capfd: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(name, case)
    for path in outputs.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(SENTINEL)
    argv = _argv(name, case, outputs, "--overwrite")
    code, _, err = _run(argv, capfd)
    assert code == 0, f"easel {' '.join(argv)}: exit {code}: {err!r}"
    for option, path in outputs.items():
        assert path.read_bytes() != SENTINEL, f"{name} {option}: {path} not replaced"
    stray = _stray(name, case.out, outputs)
    assert not stray, f"{name} left undeclared files: {stray}"


# ---------------------------------------------------------------- output = input

SAME = [
    (name, option, input_name, spelling)
    for name in WRITERS
    for option, input_name in COMMANDS[name].same_as_input
    for spelling in ("plain", "dotdot")
]


@pytest.mark.parametrize(("name", "option", "input_name", "spelling"), SAME)
def test_an_output_that_is_an_input_is_refused_even_with_overwrite(
    name: str, option: str, input_name: str, spelling: str, case: Case, capfd: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(name, case)
    target = case.input(input_name)
    if spelling == "dotdot":  # the same file, spelled differently
        target = case.out / ".." / case.inputs.name / input_name
    outputs[option] = target
    before = {folder: snapshot(folder) for folder in case.watched}
    argv = _argv(name, case, outputs, "--overwrite")
    code, _, err = _run(argv, capfd)
    line = _assert_refused(code, err, argv)
    assert input_name in line and "input" in line, line
    for folder, files in before.items():
        assert snapshot(folder) == files, f"{name}: files changed in {folder}"


# ---------------------------------------------------------------- interrupted runs

INTERRUPTIBLE = [
    (name, sig) for name in WRITERS if COMMANDS[name].interruptible for sig in (signal.SIGINT, signal.SIGTERM)
]


@pytest.mark.parametrize(("name", "sig"), INTERRUPTIBLE)
def test_an_interrupted_run_exits_128_plus_the_signal_and_leaves_no_temporary_file(
    name: str,
    sig: signal.Signals,
    case: Case,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signal arrives during the work (at the second progress report), as Ctrl-C or SIGTERM would."""
    reports: list[object] = []

    def progress(ctx: CommandContext) -> Callable[[object], None]:
        def report(update: object) -> None:
            reports.append(update)
            if len(reports) == 2:
                ctx.signal = sig
                raise Terminated() if sig == signal.SIGTERM else KeyboardInterrupt()

        return report

    monkeypatch.setattr(CommandContext, "progress", property(progress))
    outputs = _outputs(name, case)
    argv = _argv(name, case, outputs)
    code, _, err = _run(argv, capfd)
    assert len(reports) >= 2, f"{name}: fewer than two progress reports; mark it not interruptible"
    assert code == 128 + sig, f"easel {' '.join(argv)}: exit {code}: {err!r}"
    assert "Traceback" not in err, err
    stray = _stray(name, case.out, outputs)
    assert not stray, f"{name} left files behind: {stray}"
    record = outputs.get("record")
    if record is not None and record.exists():  # what could be saved was saved, and says so
        assert json.loads(record.read_text())["status"] == "interrupted", record
