"""What every format prints of a Hessian entry (``hessian P Q``), the parts they share: its title and counts.
Each format's own printing is in its module (``text.hessian_lines``, ``latex.hessian_lines``, ...), beside its helpers."""

from __future__ import annotations


def noun(n: int, word: str) -> str:
    """``1 pair``, ``2 pairs``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def title(h) -> str:
    """``d2Loss/(dW1 dW5)``, or ``d2Loss/dW1^2`` for a diagonal entry."""
    loss, p, q = h.network.loss_symbol.name, h.first.name, h.second.name
    return f"d2{loss}/d{p}^2" if p == q else f"d2{loss}/(d{p} d{q})"


def numbers(at) -> tuple:
    """(name, Number) for each of the three forms at values, in order."""
    return (("direct", at.direct), ("path pairs", at.path_pairs), ("backprop", at.backprop))


#: Largest matrix printed entry by entry in text, Markdown, LaTeX and HTML (JSON always has every entry).
PRINTED_SIZE = 16


def matrix_sections(m) -> list[tuple[str, object]]:
    """What every format prints of a full Hessian, in order: (heading, content), content a matrix (rows of
    Numbers), a list of (name, value) pairs, or a sentence."""
    names = [p.name for p in m.parameters]
    how = "exact" if m.exact else "50 digits"
    batch = f"; {m.reduction} over {m.samples} samples" if m.samples > 1 else ""
    n = len(names)
    out: list[tuple[str, object]] = [(f"Hessian at the given values ({how}{batch}): {n}x{n}, rows and columns {', '.join(names)}",
                                      m.matrix if n <= PRINTED_SIZE else f"{n * n} entries: --format json lists every one")]
    if m.split:
        out.append((f"Split: {m.split}", None))
        if n <= PRINTED_SIZE:
            out += [("Gauss-Newton part", m.gauss_newton), ("Residual part", m.residual)]
    else:
        out.append(("Split: none (the loss is not squared, half-squared, quadratic in the outputs as written, or cross-entropy on sigmoid outputs)", None))
    if m.regulariser is not None and n <= PRINTED_SIZE:
        out.append(("L2 regulariser part (lambda on each weight's diagonal)", m.regulariser))
    out.append((f"Symmetric: {'yes' if m.symmetric else 'NO'}", None))
    out.append(("Eigenvalues (ascending, double precision)", ", ".join(f"{v:.12g}" for v in m.eigenvalues)))
    out.append(("Gradient", list(zip(names, m.gradient))))
    if m.newton:
        out.append(("Newton step -H^-1 g (the gradient step is -lr * g)",
                    list(zip(names, m.newton_step)) if m.newton_step is not None else m.newton_note))
        if m.newton_step is not None and m.newton_note:
            out.append((f"Note: {m.newton_note}", None))
    if m.hessian_vector_product is not None:
        v = ", ".join(f"{name} = {fraction_text(x)}" for name, x in m.direction)
        whole = len(m.parameters) == len(m.network.parameters)
        matrix = "the full matrix" if whole else "the matrix above"
        rows = "" if whole else f" on its rows, {', '.join(names)}"
        checked = {True: f"equal to {matrix} times v{rows}", False: f"NOT equal to {matrix} times v{rows}",
                   None: "not checked against the full matrix (too large, or v outside --params)"}[m.hvp_checked]
        out.append((f"H v by the R-operator, v: {v} ({checked})",
                    list(zip([p.name for p in m.network.parameters], m.hessian_vector_product))))
    out.append((f"{'Verified' if m.verified else 'NOT verified'}: {m.detail}", None))
    out += [(f"Note: {note}", None) for note in m.notes]  # at a kink, as hessian P Q says it
    return out


def fraction_text(x) -> str:
    """A Fraction as written: 1/2, 3."""
    return str(x)


def pair_intro(h) -> list:
    """The sentence before a document's pairs of paths, as pieces: text, or ("m", symbol) for inline math."""
    listed = len(h.pairs)
    said = [noun(h.pair_count, "pair").capitalize() + " of paths, one from ", ("m", h.first), " (red) and one from ",
            ("m", h.second), " (blue) meeting at a node (circled thick where the listed pairs meet). Each pair adds both "
            "paths' chains times the second derivative of the meeting node in the two nodes it reads, times the gradient "
            "arriving at it (at the loss: 1)"]
    if listed == h.pair_count:
        said.append(":" if listed else ".")
    else:
        said.append(f"; the first {listed}:" if listed else "; too many to list here.")
    return said


def pairs_left(h) -> str:
    """What is said after the listed pairs when some are not listed ("" when all are)."""
    left = h.pair_count - len(h.pairs)
    if not left or not h.pairs:
        return ""
    names = " ".join(f'"{x.name}"' if "[" in x.name else x.name for x in (h.first, h.second))
    return (f"... and {noun(left, 'more pair')} (derivchain hessian {names} lists them, "
            "up to --max-paths); the sum below covers every pair.")


def notes_sections(m) -> list[tuple[str, object]]:
    """What a document prints of the block over a second derivative's two parameters: the matrix, its split and
    parts, and the check (not the gradient or eigenvalues, which are the whole Hessian's business)."""
    # (the kinks' notes are the entry's own, printed above the block)
    return [(heading, content) for heading, content in matrix_sections(m)
            if not heading.startswith(("Eigenvalues", "Gradient", "Symmetric")) and heading[6:] not in m.notes]


def split_tex(m) -> str:
    """A full Hessian's split as LaTeX math (a document's), or "" for none; the regulariser's part added where --l2 gives one."""
    from ..verification.hessian_matrix import SPLIT_WORDS

    gn = {SPLIT_WORDS["outputs"]: r"\underbrace{J^{\top} \frac{\partial^{2} L}{\partial \mathrm{Out}^{2}} J}_{\text{Gauss-Newton}} "
                                  r"+ \underbrace{\textstyle\sum_k \frac{\partial L}{\partial \mathrm{Out}_k} \nabla^{2} \mathrm{Out}_k}"
                                  r"_{\text{residual}}, \quad J = \frac{\partial \mathrm{Out}}{\partial \theta}",
          SPLIT_WORDS["logits"]: r"\underbrace{J_z^{\top} \operatorname{diag}\bigl(p(1 - p)\bigr) J_z}_{\text{Gauss-Newton}} "
                                 r"+ \underbrace{\textstyle\sum_k (p_k - Y_k) \nabla^{2} z_k}_{\text{residual}}, \quad p = \sigma(z)"}
    for words, tex in gn.items():
        if m.split.startswith(words):
            return "H = " + tex.replace(r", \quad", r" + \underbrace{\lambda I}_{\text{L2}}, \quad", 1) if m.regulariser is not None else "H = " + tex
    return ""


def at_values_heading(at) -> str:
    """``At the given values`` (a batch: ``(mean over 3 samples)``), before a document's three numbers."""
    batch = f" ({at.reduction} over {at.samples} samples)" if at.samples > 1 else ""
    return f"At the given values{batch}:"
