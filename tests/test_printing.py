import sympy as sp

from derivchain.verification.derivation import derive
from derivchain.model.network import real
from derivchain.renderers.latex import latex


def test_names_subscripted():
    assert latex(real("W13")) == "W_{13}"
    assert latex(real("H4")) == "H_{4}"
    assert latex(real("Out")) == r"\mathrm{Out}"
    assert latex(real("Out2")) == r"\mathrm{Out}_{2}"
    assert latex(real("delta_H4")) == r"\delta_{H_{4}}"
    assert latex(sp.sign(real("Out") - real("Y"))) == r"\operatorname{sign}{\left(\mathrm{Out} - Y \right)}"


def test_chain_keeps_path_order(net):
    d = derive(net, "W1")
    tex = latex(d.paths[1])
    assert tex == (
        r"\frac{\partial \mathrm{Loss}}{\partial \mathrm{Out}} \cdot \frac{\partial \mathrm{Out}}{\partial H_{5}}"
        r" \cdot \frac{\partial H_{5}}{\partial H_{1}} \cdot \frac{\partial H_{1}}{\partial W_{1}}"
    )
    full = latex(d)
    # Factor values in path order: sign, W14, W10, X1 - not SymPy's sorted W10 W14.
    assert r"\operatorname{sign}{\left(\mathrm{Out} - Y \right)} \cdot W_{14} \cdot W_{10} \cdot X_{1}" in full
    assert r"\text{for } \mathrm{Out} - Y > 0" in full


def test_latex_is_deterministic(net):
    assert latex(derive(net, "W3")) == latex(derive(net, "W3"))


def test_text_escapes_characters_that_change_glyph_in_text_mode():
    from derivchain.renderers.latex import DerivPrinter

    assert DerivPrinter().text("|u| < 1 > 0_x") == r"\textbar{}u\textbar{} \textless{} 1 \textgreater{} 0\_x"


def test_printed_size_summed_over_arguments_is_the_tree_size():
    # chains._size adds up the arguments' (kept) sizes: a row's o_i * delta_j sizes the shared
    # delta once per neuron. It must count exactly as tree_size does, at and past the limit.
    from derivchain.renderers.fitting import _size
    from derivchain.renderers.fitting import tree_size
    from derivchain.model.network import dense

    net = dense("3,4,4,1", activation="sigmoid", loss="half-squared")
    forms = [net.substitute(n.equation) for n in net.neurons] + [net.loss_full]
    for limit in (5, 40, 400, 20_000):
        for e in forms:
            assert _size(e, limit) == tree_size(e, limit), (e, limit)
            product = e * net.inputs[0]
            assert _size(product, limit) == tree_size(product, limit)


def test_a_line_breaks_between_brackets_never_inside_a_short_one():
    # (1 - tanh^2(c)) broken as "(1" / "- tanh^2(c))" reads as a minus of the whole line: each short
    # bracket stays whole, the product breaking between its factors.
    from derivchain.model.network import dense
    from derivchain.renderers.latex import expression_lines, printer_for

    H1, W5, X1, Out, Y, c = sp.symbols("H1 W5 X1 Out Y c")
    e = W5 * X1 * (1 - H1**2) * (1 - Out**2) * (Out - Y) * (1 - sp.tanh(c) ** 2)
    printer = printer_for(dense("2,2,1", activation="tanh"))
    for width in (20, 30, 40):
        lines = expression_lines(printer, "L", e, width)
        assert len(lines) > 1, width
        for line in lines:
            assert line.count(r"\left(") == line.count(r"\right)"), (width, line)
            assert r"\left." not in line and r"\right." not in line, (width, line)


def test_terms_come_positive_first_in_every_format():
    # SymPy writes -t + z and -Y + h; a teacher writes z - t and h - Y (each printed form still parses back).
    from derivchain.model.network import dense
    from derivchain.renderers.html import mathml
    from derivchain.renderers.latex import printer_for
    from derivchain.renderers.text import text
    from derivchain.symbolic.parse import parse_expression

    net = dense("2,1")
    t, z, h, Y, a, b = sp.symbols("t z h Y a b")
    p = printer_for(net)
    for e, plain, tex in [(z - t, "z - t", "z - t"), (h - Y, "h - Y", "h - Y"), (a * (h - Y), "a*(h - Y)", r"a \left(h - Y\right)"),
                          (-a - b + z, "z - a - b", "z - a - b"), (-a - b, "-a - b", "- a - b")]:
        assert text(e) == plain and p._print(e) == tex, e
        assert parse_expression(plain, {s.name: s for s in e.free_symbols}, "test") == e
    assert mathml(z - t, net).index("<mi>z</mi>") < mathml(z - t, net).index("<mi>t</mi>")
