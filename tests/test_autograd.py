"""`derivchain autograd` and `--torch FILE.py:NAME` (verification/autograd.py, renderers/autograd.py): the JSON
contract, exit codes, every format, the wrong custom backward caught, bad input as one line and exit 2.

Skipped cleanly when torch is absent, like tests/test_crosscheck*.py.
"""

import json
import os
from pathlib import Path

import pytest

if os.environ.get("CI"):
    import torch  # noqa: F401
else:
    pytest.importorskip("torch")
from typer.testing import CliRunner

from derivchain.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "torch"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def spec(name):
    return f"{EXAMPLES / name}.py:build"


@pytest.mark.parametrize("name", ["mlp", "cnn", "autoencoder"])
def test_examples_agree_and_exit_0(name):
    r = run("autograd", "--torch", spec(name), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["all_agree"] is True and data["first_disagreement"] is None
    assert data["entries"] and set(data["entries"][0]) >= {"parameter", "derivchain", "autograd", "relative_difference", "agree"}
    assert all(e["agree"] and e["relative_difference"] <= 1e-12 or abs(e["derivchain"]) < 1e-15 for e in data["entries"])


def test_wrong_backward_is_caught_with_its_path_sum():
    r = run("autograd", "--torch", spec("wrong_backward"))
    assert r.exit_code == 1, r.output
    assert "3 of 3 parameter entries differ; the first: fc.weight[0,0]." in r.output
    assert "Its sum over paths (2 paths, equal to backprop and direct" in r.output
    assert "dLoss/dfc.weight[0,0] = 3*" in r.output  # the 3 the hand-written backward forgot
    data = json.loads(run("autograd", "--torch", spec("wrong_backward"), "-f", "json").output)
    assert data["all_agree"] is False and data["first_disagreement"] == "fc.weight[0,0]"
    assert data["first"]["path_count"] == 2 and data["first"]["verified"] is True


@pytest.mark.parametrize("fmt, marker", [("text", "DIFFER"), ("markdown", "| `fc.weight[0,0]` |"),
                                         ("latex", r"\begin{longtable}"), ("html", "<table>")])
def test_every_format_renders(fmt, marker):
    r = run("autograd", "--torch", spec("wrong_backward"), "-f", fmt)
    assert r.exit_code == 1 and marker in r.output, r.output


def test_torch_option_on_network_commands_uses_the_model_values():
    r = run("grad", "2.weight[0,1]", "--torch", spec("mlp"), "-f", "json", "--max-paths", "0")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert "at_values" in data
    base = data["at_values"]["backprop"]
    r = run("grad", "2.weight[0,1]", "--torch", spec("mlp"), "-f", "json", "--max-paths", "0", "--set", "2.bias[0]=3")
    assert json.loads(r.output)["at_values"]["backprop"] != base
    assert run("table", "--torch", spec("autoencoder")).exit_code == 0
    assert run("show", "--torch", spec("autoencoder")).exit_code == 0
    assert run("paths", "enc.weight[0,1]", "--torch", spec("autoencoder")).exit_code == 0


def test_bad_torch_specs_are_one_line_exit_2(tmp_path):
    cases = [("autograd",), ("autograd", "--torch", "model.py"), ("autograd", "--torch", str(tmp_path / "none.py") + ":build"),
             ("grad", "W1", "--torch", spec("mlp"), "--layers", "2,1")]
    bad = tmp_path / "bad.py"
    bad.write_text("def build():\n    raise RuntimeError('no data')\n")
    cases.append(("autograd", "--torch", f"{bad}:build"))
    cases.append(("autograd", "--torch", f"{bad}:missing"))
    for args in cases:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert r.output.startswith("Error: ") and r.output.count("\n") == 1, (args, r.output)
        assert "Traceback" not in r.output


def test_unsupported_operation_names_module_path(tmp_path):
    model = tmp_path / "norm.py"
    model.write_text("import torch\nfrom torch import nn\n\n"
                     "def build():\n"
                     "    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.LayerNorm(2))).double()\n"
                     "    x = torch.ones(1, 2, dtype=torch.float64)\n"
                     "    return m, x, nn.MSELoss(), x\n")
    r = run("grad", "0.weight[0,0]", "--torch", f"{model}:build")
    assert r.exit_code == 2 and "LayerNorm" in r.output and "'1.0'" in r.output, r.output


def test_html_page_is_self_contained():
    from test_renderers import Parsed

    r = run("autograd", "--torch", spec("autoencoder"), "-f", "html")
    page = r.output
    assert r.exit_code == 0 and page.startswith("<!DOCTYPE html>\n") and page.endswith("</main>\n</body>\n</html>\n")
    tags = [t for t, _ in Parsed(page).tags]
    assert not {"script", "link", "img", "iframe", "object", "embed", "base", "form"} & set(tags)
    assert page.isascii() and tags.count("h1") == 1 and "default-src 'none'" in page
    assert page.count("<tr>") == 1 + 11
