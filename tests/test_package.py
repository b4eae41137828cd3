"""The package's public API: small, one way to build a network from each source, rendering that always works."""

from __future__ import annotations

import io
from fractions import Fraction
import warnings

import pytest

import derivchain as dc


def test_the_public_api_is_small_and_loads_lazily():
    assert len(dc.__all__) <= 32  # 30, and from_torch and compare_autograd (issue 25)
    for name in ("dense", "default_network", "load_network", "build_network", "rnn", "conv1d", "with_l2", "derive",
                 "verify", "descend", "read_values", "render", "emit", "api", "Derivation", "Network", "DerivchainError"):
        assert name in dc.__all__ and getattr(dc, name) is not None, name
    assert dir(dc) == sorted(dc.__all__ + ["__version__"])
    with pytest.raises(AttributeError):
        dc.no_such_name  # noqa: B018


def test_render_works_whatever_was_called_before():
    # Importing the renderers' package (as emit does) must not shadow the render function, nor verify's.
    d = dc.derive(dc.default_network(), "W7")
    out = io.StringIO()
    dc.emit(d, "text", out)
    import derivchain.renderers  # noqa: F401
    import derivchain.verification  # noqa: F401

    assert dc.render(d, "text") == out.getvalue()
    assert dc.render(d) == out.getvalue()  # text by default
    assert callable(dc.verify) and dc.verify({"a": d.backprop.local, "b": d.path_sum.local}).equal


def test_render_prints_an_expression_in_the_networks_notation():
    net = dc.dense("2,2,1", notation="layered")
    form = dc.derive(net, "w1_1_1").backprop.local
    assert dc.render(form) == "w2_1_1*x1*sign(O2_1 - y)"  # text that parses back
    assert dc.render(form, "latex", net) == r"w^{2}_{11} x_{1} \operatorname{sign}{\left(O_{21} - y \right)}"
    assert dc.render(form, "latex") == r"w_{2,1,1} x_{1} \operatorname{sign}{\left(O_{2,1} - y \right)}"  # no notation given
    assert dc.render(form, "markdown", net) == "$" + dc.render(form, "latex", net) + "$"
    assert dc.render(form, "json") == '"w2_1_1*x1*sign(O2_1 - y)"'
    assert dc.render(form, "html", net).startswith("<mrow><msubsup><mi>w</mi>")
    with pytest.raises(TypeError):
        dc.render(object(), "text")


def test_one_way_to_build_a_network_from_each_source(tmp_path):
    assert dc.default_network() == dc.dense()
    spec = tmp_path / "net.toml"
    spec.write_text('inputs = ["x"]\nloss = "half-squared"\n[[neurons]]\nname = "Out"\ninputs = { x = "w" }\noutput = true\n')
    from_file = dc.load_network(spec)
    from_mapping = dc.build_network({"inputs": ["x"], "loss": "half-squared", "neurons": [{"name": "Out", "inputs": {"x": "w"}, "output": True}]})
    assert [p.name for p in from_file.parameters] == [p.name for p in from_mapping.parameters] == ["w"]
    assert dc.rnn(steps=2).parameters and dc.conv1d(length=4, kernel=2).parameters
    assert dc.with_l2(dc.dense("2,1", loss="half-squared"), "1/10").l2 == Fraction(1, 10)


def test_old_names_still_work_with_a_warning_naming_the_replacement():
    net = dc.default_network()
    with pytest.warns(DeprecationWarning, match=r"dc\.api\.paths"):
        count = dc.count_paths(net, "W1")
    assert count == 2
    with pytest.warns(DeprecationWarning, match=r"dc\.render\(result, 'latex'\)"):
        assert callable(dc.latex)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dc.derive(net, "W1")  # the public names do not warn


def test_every_result_shows_itself_in_a_notebook():
    net = dc.default_network()
    for result in (dc.derive(net, "W1"), dc.api.paths(net, "W1"), net, dc.api.table(net)):
        latex, page = result._repr_latex_(), result._repr_html_()
        assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
        assert page.startswith("<style>") and '<div class="derivchain">' in page and "<math" in page
