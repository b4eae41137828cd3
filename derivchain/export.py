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

from .derivation import Derivation
from .diagram import tikz
from .errors import DerivchainError
from .network import Network
from .printing import DerivPrinter
from .render_latex import latex_lines, network_snippet, steps_latex
from .render_markdown import derivation_markdown, network_markdown
from .steps import derivation_steps

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx,tikz}
\allowdisplaybreaks
"""


class ExportError(DerivchainError):
    """An export that would clobber a file, has no LaTeX engine, or failed to compile."""


def latex_document(network: Network, derivations: list[Derivation], title: str, snippet: bool = False) -> str:
    """The network's equations, then each derivation (paths, chains, sums, backprop, direct, verdict)."""
    printer = DerivPrinter()
    body = [r"\section*{The network}", printer.text(network.summary()) + ".", "",
            network_snippet(network).split("\n", 1)[1], ""]
    for d in derivations:
        name = printer._print(d.parameter)
        body.append(r"\section*{$\partial %s / \partial %s$}" % (printer._print(network.loss_symbol), name))
        body.append(tikz(network, d.parameter, printer))
        body.append(r"\begin{align*}")
        body.append(" \\\\\n".join(latex_lines(d, printer)))
        body.append(r"\end{align*}")
        chain = derivation_steps(network, d.parameter)
        body.append(r"\noindent Step by step (%s):" % printer.text(chain[1].reason))
        body.append(r"\begin{align*}")
        body.append(" \\\\\n".join(steps_latex(chain, printer)))
        body.append(r"\end{align*}")
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
    parts = [] if snippet else [f"# {title}", ""]
    parts.append(network_markdown(network))
    parts += [derivation_markdown(d) for d in derivations]
    return "\n".join(parts)


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
