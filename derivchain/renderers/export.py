"""Documents for notes: a complete LaTeX, Markdown or HTML file (or a snippet), written atomically.

An existing file is never replaced unless asked (``force``); the text is written to a temporary
file in the same folder and renamed over the target, so a reader never sees half a document.
``compile_pdf`` runs a real LaTeX engine when one is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import limits
from ..files import ExportError, check_targets, write_files
from ..verification.notes import Notes
from .document import latex_document, markdown_document
from .formats import format_of_suffix, suffixes_named


def html_document(notes: Notes, title: str, snippet: bool = False) -> str:
    """The same content as one self-contained HTML page (MathML, inline SVG, no script; see renderers/html.py)."""
    from .html import document

    return document(notes, title, snippet)


def export_document(notes: Notes, target: Path, title: str, snippet: bool = False, force: bool = False,
                    pdf: bool = False, brief: bool = False) -> list[Path]:
    """Write the document of ``notes`` (a Markdown one with its SVG diagrams beside it: the
    network's, and unless ``brief`` each parameter's with its paths; with ``pdf``, the compiled PDF beside
    the .tex; an HTML page alone, its diagrams inline): every target checked first, all written or none.
    The files written, every one."""
    target = Path(target)
    left_out = 0
    fmt = format_of_suffix(target.suffix)  # the registry's: .tex LaTeX, .md Markdown, .html HTML
    if fmt not in ("latex", "markdown", "html"):
        raise ExportError(f"--out {target}: choose a file ending in {suffixes_named()}")
    if fmt == "latex":
        outputs = [target, target.with_suffix(".pdf")] if pdf else [target]
    elif fmt == "html":
        outputs = [target]
    else:
        # Markdown hosts render SVG images: the diagrams go beside the .md file.
        pictures = {None: target.stem + "-network.svg"}
        if not brief and len(notes.detailed) + 1 <= limits.current().pictures:
            # A matrix entry WQ[0,1] is WQ-0-1 in a file name (no brackets or commas for shells and links to trip on).
            pictures.update({p: f"{target.stem}-paths-{p.name.rstrip(']').replace('[', '-').replace(',', '-')}.svg"
                             for p in notes.detailed})
        elif not brief:  # a wide network: hundreds of files nobody asked for; the document says how to ask
            left_out = len(notes.detailed)
        outputs = [target] + [target.with_name(name) for name in pictures.values()]
    check_targets(outputs, force)  # before the (slow) derivations (the notes derive when first read) and compilation
    if fmt == "latex":
        text = latex_document(notes, title, snippet, brief)
        files = {target: text}
        if pdf:
            files[outputs[1]], _ = compile_text(text, target.name)
        return write_files(files, force)
    if fmt == "html":
        return write_files({target: html_document(notes, title, snippet)}, force)
    from .diagram import svg

    files = {target: markdown_document(notes, title, snippet, brief, pictures, left_out)}
    for p, name in pictures.items():
        files[target.with_name(name)] = svg(notes.network, p) + "\n"
    return write_files(files, force)


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write ``text`` to ``path`` atomically; refuse to replace an existing file unless ``force``."""
    write_files({path: text}, force)


ENGINES = ("pdflatex", "lualatex", "xelatex")
#: Each file an exported document loads (its class, the preamble's packages, what TikZ and hyperref
#: load) and the Debian package that holds it (checked with kpsewhich and dpkg -S by the tests).
TEX_FILES = {"article.cls": "texlive-latex-base", "geometry.sty": "texlive-latex-base", "amsmath.sty": "texlive-latex-base",
             "amssymb.sty": "texlive-base", "graphicx.sty": "texlive-latex-base", "tikz.sty": "texlive-pictures",
             "xcolor.sty": "texlive-latex-recommended", "mathtools.sty": "texlive-latex-recommended",
             "array.sty": "texlive-latex-base", "longtable.sty": "texlive-latex-base",
             "booktabs.sty": "texlive-latex-recommended", "hyperref.sty": "texlive-latex-base"}
#: Debian's packages that hold everything an exported document needs.
TEX_PACKAGES = " ".join(sorted(set(TEX_FILES.values())))
#: What a document with text beyond Latin loads besides (its first line asks for lualatex; see
#: renderers/document.py): each file and font and its Debian package.
LUATEX_FILES = {"iftex.sty": "texlive-base", "fontspec.sty": "texlive-latex-recommended",
                "luaotfload.sty": "texlive-luatex"}
LUATEX_FONTS = {"DejaVu Serif": "fonts-dejavu-core", "DejaVu Sans": "fonts-dejavu-core", "DejaVu Sans Mono": "fonts-dejavu-core",
                "WenQuanYi Micro Hei": "fonts-wqy-microhei", "WenQuanYi Micro Hei Mono": "fonts-wqy-microhei"}
#: Debian's packages a document beyond Latin needs besides :data:`TEX_PACKAGES`.
LUATEX_PACKAGES = "texlive-luatex fonts-wqy-microhei"
#: The first line of a document that must be compiled with lualatex (editors read it too).
LUATEX_LINE = "% !TEX program = lualatex"
_LOG_LINE = re.compile(r"^l\.(\d+)")
#: Seconds a LaTeX run may take before it is stopped.
COMPILE_SECONDS = 120


def latex_engine() -> str | None:
    """The first LaTeX engine on PATH, or None."""
    return next((e for e in ENGINES if shutil.which(e)), None)


def compile_text(text: str, name: str = "document.tex", reproducible: bool = False) -> tuple[bytes, str]:
    """Compile a LaTeX document; the PDF's bytes and the log (``reproducible``: the same bytes for the same text,
    its dates fixed at the epoch).

    Confined: in a new temporary folder holding only the document, with shell escape off and TeX
    allowed to read and write only there (openin_any/openout_any = paranoid: no absolute paths, no
    parent folders), under a time limit.
    """
    if text.startswith(LUATEX_LINE):  # letters beyond Latin, in fonts only lualatex (of the three) is set up for here
        engine = "lualatex"
        if not shutil.which(engine):
            raise ExportError(f"{name} has text beyond Latin (Greek, Cyrillic, CJK) and needs lualatex, which was not found; "
                              f"on Debian: apt-get install {LUATEX_PACKAGES}; or export without --pdf")
    else:
        engine = latex_engine()
    if engine is None:
        raise ExportError(f"no LaTeX engine found (pdflatex, lualatex or xelatex); on Debian: apt-get install "
                          f"{TEX_PACKAGES}; or export without --pdf")
    env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f"}
    if reproducible:  # pdfTeX then writes these dates, and an ID made from them, instead of the clock's
        env.update(SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory(prefix="derivchain-tex-") as work:
        (Path(work) / "document.tex").write_text(text, encoding="utf-8")
        for _ in range(2):  # twice, so cross-references settle
            try:
                run = subprocess.run([engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "document.tex"],
                                     capture_output=True, text=True, cwd=work, env=env, timeout=COMPILE_SECONDS,
                                     stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise ExportError(f"{engine} did not finish compiling {name} in {COMPILE_SECONDS} s; nothing was written") from None
            except OSError as exc:
                raise ExportError(f"cannot run {engine}: {exc.strerror or exc}; nothing was written") from None
            log_path = Path(work) / "document.log"
            log = log_path.read_text(errors="replace") if log_path.is_file() else ""
            if run.returncode != 0:
                error = first_error(log, name, (run.stdout or "") + (run.stderr or ""))
                raise ExportError(f"{engine} could not compile {name}: {error}; nothing was written")
        pdf = Path(work) / "document.pdf"
        if not pdf.exists():
            raise ExportError(f"{engine} wrote no PDF for {name}; nothing was written")
        return pdf.read_bytes(), log


def first_error(log: str, name: str = "document.tex", output: str = "") -> str:
    """The log's first error as one line: TeX's ``! ...`` line and the line of ``name`` it stopped at
    (``l.NN``), with the packages to install when a file was not found. Without one, the engine's
    last line of output (``output``), or that no log was written."""
    lines = log.splitlines()
    at = next((i for i, l in enumerate(lines) if l.startswith("!")), None)
    if at is None:
        said = [" ".join(l.split()) for l in output.splitlines() if l.strip()]
        last = f" (it said: {said[-1][:200]})" if said else ""
        return ("no log was written" if not log.strip() else "the log names no error") + last
    error = " ".join(lines[at].split())
    where = next((m.group(1) for m in map(_LOG_LINE.match, lines[at + 1:]) if m), None)
    if where is not None:
        error += f" ({name}, line {where})"
    missing = re.search(r"File `([^']+)' not found", error)
    if missing and missing.group(1) in TEX_FILES:  # a file the notes load: name everything they need
        error += f"; on Debian: apt-get install {TEX_PACKAGES}"
    elif missing and missing.group(1) in LUATEX_FILES:
        error += f"; on Debian: apt-get install {LUATEX_PACKAGES}"
    font = re.search(r"Font (.+) not found", error)
    if font and font.group(1) in LUATEX_FONTS:  # checked by the document itself (document.LUATEX_FONTS)
        error += f"; on Debian: apt-get install {LUATEX_FONTS[font.group(1)]}"
    return error


def compile_pdf(tex: Path, force: bool = False) -> tuple[Path, str]:
    """Compile the document ``tex`` into the PDF beside it (see :func:`compile_text`); the PDF path and the log."""
    tex = Path(tex)
    pdf = tex.with_suffix(".pdf")
    check_targets([pdf], force)
    data, log = compile_text(tex.read_text(encoding="utf-8"), tex.name)
    write_files({pdf: data}, force)
    return pdf, log
