"""Documents for notes: a complete LaTeX or Markdown file (or a snippet), written atomically.

An existing file is never replaced unless asked (``force``); the text is written to a temporary
file in the same folder and renamed over the target, so a reader never sees half a document.
``compile_pdf`` runs a real LaTeX engine when one is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .derivation import Derivation, derive
from .diagram import tikz
from .errors import DerivchainError
from .network import Network
from .render import markdown as md
from .render.latex import align, derivation_lines, network_lines, printer_for, steps_lines
from .steps import step_by_step

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx,tikz}
\allowdisplaybreaks
"""


class ExportError(DerivchainError):
    """An export that would clobber a file, has no LaTeX engine, or failed to compile."""


def latex_document(network: Network, derivations: list[Derivation], title: str, snippet: bool = False) -> str:
    """The network's equations, then each derivation (paths, chains, sums, backprop, direct, verdict, steps)."""
    printer = printer_for(network)
    body = [r"\section*{The network}", printer.text(network.summary()) + ".", "",
            align(network_lines(network, printer)), ""]
    for d in derivations:
        name = printer._print(d.parameter)
        body.append(r"\section*{$\partial %s / \partial %s$}" % (printer._print(network.loss_symbol), name))
        body.append(tikz(network, d.parameter, printer))
        body.append(align(derivation_lines(d, printer)))
        chain = step_by_step(network, d.parameter)
        body.append(r"\noindent Step by step (%s):" % printer.text(chain.steps[1].reason))
        body.append(align(steps_lines(chain, printer)))
        for note in d.notes():
            body.append(r"\noindent\emph{Note.} " + printer.text(note) + r"\par")
        body.append("")
    text = "\n".join(body)
    if snippet:
        return text
    head = PREAMBLE + "\\title{%s}\n\\date{}\n\\begin{document}\n\\maketitle\n" % printer.text(title)
    return head + text + "\n\\end{document}\n"


def markdown_document(network: Network, derivations: list[Derivation], title: str, snippet: bool = False) -> str:
    """The same content as Markdown with ``$$`` math."""
    parts = [] if snippet else [f"# {md.escape(title)}", ""]
    parts.append(md.network(network))
    parts += [md.derivation(d) for d in derivations]
    return "\n".join(parts)


def export_document(network: Network, parameters, target: Path, title: str, snippet: bool = False, force: bool = False,
                    pdf: bool = False, max_paths: int = 1000) -> list[Path]:
    """Derive each parameter and write the document (a Markdown one with its SVG diagram beside it),
    and with ``pdf`` compile it; every file is checked before any is written. The files written."""
    target = Path(target)
    derivations = [derive(network, p, max_paths=max_paths) for p in parameters]
    if target.suffix == ".tex":
        if pdf and target.with_suffix(".pdf").exists() and not force:
            raise ExportError(f"{target.with_suffix('.pdf')} already exists; pass --force to replace it")
        write_new(target, latex_document(network, derivations, title, snippet), force)
        written = [target]
        if pdf:
            made, _ = compile_pdf(target, force)
            written.append(made)
        return written
    # Markdown hosts render SVG images: the diagram goes beside the .md file.
    from .diagram import svg

    picture = target.with_name(target.stem + "-network.svg")
    for path in (target, picture):  # refuse before writing either, so nothing is left half done
        if path.exists() and not force:
            raise ExportError(f"{path} already exists; pass --force to replace it")
    write_new(picture, svg(network, derivations[0].parameter if len(derivations) == 1 else None) + "\n", force)
    text = markdown_document(network, derivations, title, snippet)
    write_new(target, text.replace("## Network\n", f"## Network\n\n![the network]({picture.name})\n", 1), force)
    return [target, picture]


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write ``text`` to ``path`` atomically; refuse to replace an existing file unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise ExportError(f"{path} already exists; pass --force to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{folder} is not a folder; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


ENGINES = ("pdflatex", "lualatex", "xelatex")


def latex_engine() -> str | None:
    """The first LaTeX engine on PATH, or None."""
    return next((e for e in ENGINES if shutil.which(e)), None)


def compile_pdf(tex: Path, force: bool = False) -> tuple[Path, str]:
    """Compile ``tex`` beside itself; the PDF path and the engine's log text."""
    engine = latex_engine()
    if engine is None:
        raise ExportError(
            "no LaTeX engine found (pdflatex, lualatex or xelatex); on Debian: apt-get install "
            "texlive-latex-base texlive-latex-recommended, or export without --pdf"
        )
    tex = Path(tex).resolve()
    pdf = tex.with_suffix(".pdf")
    if pdf.exists() and not force:
        raise ExportError(f"{pdf} already exists; pass --force to replace it")
    with tempfile.TemporaryDirectory() as work:
        for _ in range(2):  # twice, so cross-references settle
            run = subprocess.run(
                [engine, "-interaction=nonstopmode", "-halt-on-error", f"-output-directory={work}", str(tex)],
                capture_output=True, text=True, cwd=work, timeout=300,
            )
        log = (Path(work) / tex.with_suffix(".log").name).read_text(errors="replace")
        if run.returncode != 0:
            first = next((l for l in log.splitlines() if l.startswith("!")), "see the log")
            raise ExportError(f"{engine} could not compile {tex.name}: {first}")
        shutil.move(str(Path(work) / pdf.name), pdf)
    return pdf, log
