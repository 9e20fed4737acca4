"""`easel --help` and `import easel` must stay fast: no torch, no model code at import."""

from __future__ import annotations

import subprocess
import sys

from easel.cli import command_modules, main


def _modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_import_easel_does_not_load_torch() -> None:
    loaded = _modules_loaded_by("import easel")
    assert "torch" not in loaded and "cv2" not in loaded
    heavy = {"numba", "av", "sklearn", "skimage", "scipy"} & loaded
    assert not heavy, f"`import easel` loads {sorted(heavy)}"


def test_an_art_function_loads_only_its_module() -> None:
    """The lazy exports import only the module a name lives in; numba waits for the first call."""
    loaded = _modules_loaded_by("import easel\neasel.quantize_colors\neasel.slic_superpixels")
    assert "easel.art.quantize" in loaded and "easel.art.superpixels" in loaded
    heavy = {"torch", "av", "numba", "easel.art._kernels"} & loaded
    assert not heavy, f"looking up an art function loads {sorted(heavy)}"


def test_python_dash_m_easel_is_the_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`python -m easel ARGS` runs the same command line as `easel ARGS`, exit codes included."""
    from easel import __version__

    version = subprocess.run(
        [sys.executable, "-m", "easel", "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and version.stdout.strip() == f"easel {__version__}"
    missing = tmp_path / "missing.png"
    bad = subprocess.run(
        [sys.executable, "-m", "easel", "quantize", str(missing), "-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("easel quantize: error:") and str(missing) in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_building_the_cli_does_not_load_heavy_libraries() -> None:
    loaded = _modules_loaded_by("from easel.cli import build_parser\nbuild_parser()")
    heavy = {"torch", "transformers", "numba", "sklearn", "av"} & loaded
    assert not heavy, f"command modules import {sorted(heavy)} at module level; import inside run()"


def test_every_command_has_help_with_an_example(capsys) -> None:  # type: ignore[no-untyped-def]
    for module in command_modules():
        assert module.HELP and "example" in (module.EPILOG or "").lower(), module.NAME
        assert main([module.NAME, "--help"]) == 0
        assert "example" in capsys.readouterr().out.lower()


def test_no_command_is_usage_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 2
    assert main(["no-such-command"]) == 2


def test_a_closed_pipe_ends_a_command_quietly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    # `easel weights list --json | head -c 0`: the reader is gone before easel writes
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from easel.cli import main; raise SystemExit(main())",
            "weights",
            "list",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "EASEL_HOME": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_a_command_imports_only_its_own_command_module() -> None:
    """`easel quantize ...` builds and imports quantize's parser only; the listing costs no import."""
    loaded = _modules_loaded_by("from easel.cli import main\nmain(['quantize', '--help'])")
    others = {m for m in loaded if m.startswith("easel.cli.") and not m.startswith("easel.cli._")}
    assert others == {"easel.cli.quantize"}
    assert not {"easel.style", "easel.scene3d", "easel.depth", "easel.nets"} & loaded
    listing = _modules_loaded_by("from easel.cli import main\nmain(['--help'])")
    assert not {m for m in listing if m.startswith("easel.cli.") and not m.startswith("easel.cli._")}


def test_the_lazy_listing_is_the_discovered_one() -> None:
    """The table read from the sources says what importing every command module says."""
    from easel.cli import _command_table, build_parser

    assert [(c.name, c.help, c.order) for c in _command_table()] == [
        (m.NAME, m.HELP, getattr(m, "ORDER", 100)) for m in command_modules()
    ]
    full = build_parser()
    for command in _command_table():
        assert build_parser(only=command.name).format_help() == full.format_help()
    assert build_parser(only="no-such-command").format_help() == full.format_help()


def test_a_module_header_that_is_not_literal_is_imported_instead(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from easel.cli import _header_of

    plain = tmp_path / "plain.py"
    plain.write_text(
        'NAME = "x"\nHELP = "does x"\nORDER = 5\n\ndef add_arguments(p):\n    pass\n\ndef run(a, c):\n    pass\n'
    )
    assert _header_of(plain) == {"NAME": "x", "HELP": "does x", "ORDER": 5}
    computed = tmp_path / "computed.py"
    computed.write_text(plain.read_text().replace('HELP = "does x"', 'HELP = "does " + "x"'))
    assert _header_of(computed) is None
    helper = tmp_path / "helper.py"  # no run(): not a command
    helper.write_text('NAME = "x"\nHELP = "does x"\n')
    assert _header_of(helper) is None
    assert _header_of(tmp_path / "missing.py") is None
