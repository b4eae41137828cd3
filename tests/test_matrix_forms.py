"""Matrix forms as a reader sees them (renderers/matrix_forms.py): LaTeX of each example's chain, MathML of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from derivchain import api
from derivchain.engines.matrix_chain import matrix_chain
from derivchain.renderers.html import MathMLPrinter, math, tex
from derivchain.renderers.matrix_forms import form_latex

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_a_root_is_a_root():
    assert form_latex("dL_dXhat/sqrt(var + 0.00001)") == r"\frac{1}{\sqrt{\mathrm{var} + 10^{-5}}} \odot \frac{\partial L}{\partial \mathrm{Xhat}}"
    assert form_latex("C/sqrt(var)**2") == r"\frac{C}{\left(\sqrt{\mathrm{var}}\right)^{2}}"  # the square not on var
    printer = MathMLPrinter()
    shown = math(printer, tex(printer, form_latex("sqrt(var + 0.5)")))
    assert "<msqrt>" in shown and "<mn>0.5</mn>" in shown and "sqrt" not in shown.replace("msqrt", "")


def test_a_divided_adjoint_is_no_fraction_in_a_fraction():
    # dL/dS/2 was \frac{\frac{\partial L}{\partial S}}{2}; mean's 1/n the same (dL/dmu/4)
    assert form_latex("(dL_dS/2) @ K") == r"\frac{1}{2}\, \frac{\partial L}{\partial S}\, K"
    assert form_latex("(dL_dmu/4) + dL_dC") == r"\frac{1}{4}\, \frac{\partial L}{\partial \mu} + \frac{\partial L}{\partial C}"
    assert form_latex("((-1/4)*Y)*(1/P)") == r"-\frac{1}{4}\, Y \odot \frac{1}{P}"


def test_the_matrix_product_and_the_entrywise_one_are_bracketed_apart():
    # (G ⊙ H) X^T is not G ⊙ (H X^T): both printed as G ⊙ H X^T before
    assert form_latex("(dL_dH*H) @ X.T") == r"\left(\frac{\partial L}{\partial H} \odot H\right)\, X^{\mathrm{T}}"
    assert form_latex("dL_dH*(H @ X.T)") == r"\frac{\partial L}{\partial H} \odot \left(H\, X^{\mathrm{T}}\right)"


@pytest.mark.parametrize("example", ["attention", "layernorm", "batchnorm", "softmax_classifier", "two_layer_batch"])
def test_every_examples_chain_reads_well(example):
    net = api.network(str(EXAMPLES / f"{example}.toml"))
    for leaf, kind in net.matrix.leaves:
        if kind == "target":
            continue
        for e in matrix_chain(net, leaf):
            latex = form_latex(e.form)
            assert r"\mathrm{sqrt}" not in latex and "e-0" not in latex, latex
            assert latex.count(r"\frac{\frac") == 0 and r"{\frac{\partial" not in latex.replace(r"\frac{1}{", ""), latex
            tex(MathMLPrinter(), latex)  # the HTML converter reads every one
