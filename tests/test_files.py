"""Nothing lost: every write checked first, whole or not at all, never through a link, umask respected;
compiling confined. Each failure is caused, not assumed."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import derivchain.files as files
from derivchain.cli import app
from derivchain.renderers.export import compile_text, latex_engine
from derivchain.files import ExportError, write_files

runner = CliRunner()
NEEDS_TEX = pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_refuses_to_clobber_and_force_replaces(tmp_path):
    target = tmp_path / "a.txt"
    write_files({target: "one"})
    with pytest.raises(ExportError, match="already exists; pass --force"):
        write_files({target: "two"})
    assert target.read_text() == "one"
    write_files({target: "two"}, force=True)
    assert target.read_text() == "two" and not _leftovers(tmp_path)


def test_force_replaces_a_link_not_what_it_points_to(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    link = tmp_path / "notes.tex"
    link.symlink_to(precious)
    with pytest.raises(ExportError, match="already exists"):
        write_files({link: "new"})
    write_files({link: "new"}, force=True)
    assert precious.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "new"


def test_a_dangling_link_counts_as_existing(tmp_path):
    link = tmp_path / "x.md"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ExportError, match="already exists"):
        write_files({link: "new"})
    assert not (tmp_path / "nowhere").exists()


def test_folders(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        write_files({tmp_path / "d": "x"}, force=True)
    with pytest.raises(ExportError, match="is not a folder; create it first"):
        write_files({tmp_path / "missing" / "x.tex": "x"})


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_files({tmp_path / "f.txt": "x"})
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == mode


def test_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "notes.tex"
    target.write_text("old")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(ExportError, match="No space left on device; nothing was changed"):
        write_files({target: "new"}, force=True)
    assert target.read_text() == "old" and not _leftovers(tmp_path)


def test_several_files_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    md, svg = tmp_path / "n.md", tmp_path / "n-network.svg"
    md.write_text("old md")
    svg.write_text("old svg")
    real_replace = os.replace
    calls = []

    def failing_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "I/O error")
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", failing_second)
    with pytest.raises(ExportError, match="every file was left as it was"):
        write_files({md: "new md", svg: "new svg"}, force=True)
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert md.read_text() == "old md" and svg.read_text() == "old svg"
    assert not _leftovers(tmp_path)


def test_markdown_export_checks_both_files_first(tmp_path):
    (tmp_path / "n-network.svg").write_text("mine")
    r = runner.invoke(app, ["export", "--out", str(tmp_path / "n.md")])
    assert r.exit_code == 2 and "n-network.svg already exists" in r.output
    assert not (tmp_path / "n.md").exists()
    r = runner.invoke(app, ["export", "--out", str(tmp_path / "n.md"), "--force"])
    assert r.exit_code == 0 and "wrote" in r.output and "n-network.svg" in r.output  # every file it writes is named


def test_pdf_export_checks_the_pdf_before_writing_the_tex(tmp_path):
    (tmp_path / "n.pdf").write_text("mine")
    r = runner.invoke(app, ["export", "W7", "--out", str(tmp_path / "n.tex"), "--pdf"])
    assert r.exit_code == 2 and "n.pdf already exists" in r.output
    assert not (tmp_path / "n.tex").exists() and (tmp_path / "n.pdf").read_text() == "mine"


@NEEDS_TEX
def test_compiling_cannot_read_files_outside_its_folder():
    doc = "\\documentclass{article}\\begin{document}\\input{/etc/hostname}\\end{document}\n"
    with pytest.raises(ExportError, match="could not compile") as info:
        compile_text(doc, "evil.tex")
    assert "\n" not in str(info.value)
    doc = "\\documentclass{article}\\begin{document}\\immediate\\write18{touch /tmp/derivchain-canary}x\\end{document}\n"
    Path("/tmp/derivchain-canary").unlink(missing_ok=True)
    try:
        compile_text(doc, "shell.tex")
    except ExportError:
        pass
    assert not Path("/tmp/derivchain-canary").exists()


def test_an_engine_that_writes_no_log_or_hangs_is_one_line(monkeypatch):
    monkeypatch.setattr("derivchain.renderers.export.latex_engine", lambda: "pdflatex")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", ""))
    with pytest.raises(ExportError, match="could not compile x.tex: no log was written; nothing was written"):
        compile_text("x", "x.tex")

    def hang(*a, **k):
        raise subprocess.TimeoutExpired(a, 120)

    monkeypatch.setattr(subprocess, "run", hang)
    with pytest.raises(ExportError, match="did not finish compiling x.tex in 120 s"):
        compile_text("x", "x.tex")


def test_missing_engine_names_every_package_a_document_needs(monkeypatch):
    monkeypatch.setattr("derivchain.renderers.export.latex_engine", lambda: None)
    with pytest.raises(ExportError, match="apt-get install texlive-base texlive-latex-base texlive-latex-recommended texlive-pictures;"):
        compile_text("x")


def _fake_engine(folder: Path, monkeypatch, script: str) -> None:
    """A ``pdflatex`` first on PATH that runs ``script`` (sh) in the compile folder."""
    engine = folder / "pdflatex"
    engine.write_text("#!/bin/sh\n" + script)
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_a_fake_engine_without_a_log_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    _fake_engine(tmp_path, monkeypatch, "echo 'I cannot run today' >&2\nexit 3\n")
    with pytest.raises(ExportError) as info:
        compile_text("x", "notes.tex")
    assert str(info.value) == "pdflatex could not compile notes.tex: no log was written (it said: I cannot run today); nothing was written"
    r = runner.invoke(app, ["export", "W7", "--out", str(tmp_path / "n.tex"), "--pdf"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "no log was written" in r.output
    assert not (tmp_path / "n.tex").exists() and not (tmp_path / "n.pdf").exists()


def test_a_failed_compile_is_one_line_with_the_logs_first_error_and_its_line(tmp_path, monkeypatch):
    log = tmp_path / "the.log"
    _fake_engine(tmp_path, monkeypatch, f"cp '{log}' document.log\nexit 1\n")
    log.write_text("This is pdfTeX, Version 3.141592653\n(./document.tex\n! Undefined control sequence.\n"
                   "l.7 \\frobnicate\n                {x}\n! Emergency stop.\nl.9\n")
    with pytest.raises(ExportError) as info:
        compile_text("x", "notes.tex")
    assert str(info.value) == "pdflatex could not compile notes.tex: ! Undefined control sequence. (notes.tex, line 7); nothing was written"
    log.write_text("! LaTeX Error: File `tikz.sty' not found.\n\nType X to quit or <RETURN> to proceed,\nl.4 \\usepackage\n")
    with pytest.raises(ExportError, match=r"File `tikz.sty' not found. \(notes.tex, line 4\); on Debian: apt-get install "
                                          r"texlive-base texlive-latex-base texlive-latex-recommended texlive-pictures; nothing"):
        compile_text("x", "notes.tex")
    r = runner.invoke(app, ["export", "W7", "--out", str(tmp_path / "n.tex"), "--pdf"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "(n.tex, line 4)" in r.output


def test_an_engine_that_cannot_be_run_is_one_line(tmp_path, monkeypatch):
    engine = tmp_path / "pdflatex"
    engine.write_bytes(b"\x7fELF not really")
    engine.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))  # alone: the system would run the next pdflatex on PATH
    with pytest.raises(ExportError, match=r"^cannot run pdflatex: .*; nothing was written$"):
        compile_text("x", "notes.tex")


def test_the_install_advice_names_the_package_of_every_file_a_document_loads():
    from derivchain.renderers.export import TEX_FILES, TEX_PACKAGES
    from derivchain.renderers.document import PREAMBLE

    loaded = {f"{name}.sty" for group in re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", PREAMBLE) for name in group.split(",")}
    loaded |= {f"{c}.cls" for c in re.findall(r"\\documentclass(?:\[[^]]*\])?\{([^}]*)\}", PREAMBLE)}
    assert loaded <= set(TEX_FILES), loaded - set(TEX_FILES)
    assert TEX_PACKAGES.split() == sorted(set(TEX_FILES.values()))
    if not (shutil.which("kpsewhich") and shutil.which("dpkg")):
        pytest.skip("kpsewhich and dpkg find the packages (Debian with TeX Live)")
    for file, package in TEX_FILES.items():
        path = subprocess.run(["kpsewhich", file], capture_output=True, text=True).stdout.strip()
        assert path, f"{file} is not installed"
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True).stdout
        assert owner.split(":")[0] == package, (file, owner)



def test_the_install_advice_names_the_package_of_every_file_a_document_beyond_latin_loads():
    from derivchain.renderers.export import LUATEX_FILES, LUATEX_FONTS, LUATEX_PACKAGES, TEX_PACKAGES
    from derivchain.renderers.document import LUATEX_FONTS as FONTS_PREAMBLE, LUATEX_FONTS_USED, LUATEX_HEAD

    head = LUATEX_HEAD + FONTS_PREAMBLE
    loaded = {f"{name}.sty" for name in re.findall(r"\\(?:usepackage|RequirePackage)\{([^}]*)\}", head)} | {"luaotfload.sty"}
    assert loaded == set(LUATEX_FILES) and set(LUATEX_FONTS) == set(LUATEX_FONTS_USED)
    assert set(LUATEX_PACKAGES.split()) | set(TEX_PACKAGES.split()) >= set(LUATEX_FILES.values()) - {"fonts-dejavu-core"}
    if not (shutil.which("kpsewhich") and shutil.which("dpkg") and shutil.which("lualatex")):
        pytest.skip("kpsewhich, dpkg and lualatex find the packages (Debian with texlive-luatex)")
    for file, package in LUATEX_FILES.items():
        path = subprocess.run(["kpsewhich", file], capture_output=True, text=True).stdout.strip()
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True).stdout
        assert owner.split(":")[0] == package, (file, owner)


def test_a_replaced_file_keeps_its_mode(tmp_path):
    # Before: --force over a private 0600 file left it 0644 (the new file took the umask's mode).
    target = tmp_path / "notes.svg"
    target.write_text("old")
    target.chmod(0o600)
    r = CliRunner().invoke(app, ["draw", "--out", str(target), "--force"])
    assert r.exit_code == 0, r.output
    assert (target.stat().st_mode & 0o777) == 0o600 and target.read_text().startswith("<svg")
    target.chmod(0o640)
    write_files({target: "new"}, force=True)
    assert (target.stat().st_mode & 0o777) == 0o640 and target.read_text() == "new"


@pytest.mark.parametrize("name", ["a" * 252 + ".md", "é" * 130 + ".svg"])
def test_a_name_too_long_for_the_file_system_is_one_line_exit_2(tmp_path, name):
    # Before: exit 3 (OSError: File name too long) from the checks.
    command = "export" if name.endswith(".md") else "draw"
    r = CliRunner().invoke(app, [command, "--out", str(tmp_path / name)])
    assert r.exit_code == 2, r.output
    assert r.output.count("\n") == 1 and "bytes long, more than the 255" in r.output and _leftovers(tmp_path) == []


def test_a_long_name_that_fits_is_written(tmp_path):
    # 250 bytes: the temporary file's longer name must not make it fail.
    target = tmp_path / ("a" * 246 + ".svg")
    r = CliRunner().invoke(app, ["draw", "--out", str(target)])
    assert r.exit_code == 0 and target.is_file() and _leftovers(tmp_path) == [], r.output


def test_a_path_too_long_is_one_line_exit_2(tmp_path):
    r = CliRunner().invoke(app, ["draw", "--out", str(tmp_path) + "/d" * 3000 + "/x.svg"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


def _device(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("make, kind", [(_fifo, "a FIFO"), (_socket, "a socket"), (_device, "a device")])
@pytest.mark.parametrize("option", ["--network", "--values"])
def test_a_fifo_device_or_socket_as_an_input_file_is_refused_at_once(tmp_path, make, kind, option):
    # Before: a FIFO as the network or values file blocked forever (and /dev/zero read up to the size limit).
    import time

    path = make(tmp_path / "in.json")
    args = ["show", "--network", str(path)] if option == "--network" else ["grad", "W1", "--values", str(path)]
    start = time.monotonic()
    r = CliRunner().invoke(app, args)
    assert time.monotonic() - start < 5
    assert r.exit_code == 2 and f"is {kind}" in r.output and r.output.count("\n") == 1, r.output


def test_a_nul_in_a_file_name_is_one_line_exit_2(tmp_path):
    # Found by the fuzzer: ValueError (embedded null byte), exit 3.
    for args in (["export", "W1", "--out", str(tmp_path / "a\x00b.md")], ["show", "--network", str(tmp_path / "a\x00b.toml")]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and "cannot hold a NUL character" in r.output, r.output
