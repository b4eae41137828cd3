"""The notebooks run top to bottom on a real Jupyter kernel, and show what they claim."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def outputs(nb) -> str:
    # A cell's stdout may arrive as several stream messages, split anywhere (even mid-line):
    # join those with nothing between them; rich outputs (text/latex, ...) on lines of their own.
    text = []
    for cell in nb.cells:
        streams = "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")
        text.append(streams)
        for out in cell.get("outputs", []):
            text.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(text)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_runs_without_errors(path):
    nb = execute(path)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors


def test_published_example_notebook_shows_the_numbers():
    text = outputs(execute(NOTEBOOKS / "published_example.ipynb"))
    # Printed to 15 digits; each rounds to the post's figure (checked digit by digit in test_values).
    for printed in ("0.593269992107187", "0.596884378259767", "0.751365069552316", "0.772928465321463",
                    "E_total = 0.298371108760003", "term = 0.0821670405642308", "0.000438567734474347",
                    "W5 0.358916479717885", "W6 0.408666186076233", "W7 0.511301270238738", "W8 0.561370121107989",
                    "W1 0.149780716132763", "W2 0.199561432265526", "W3 0.24975114363237", "W4 0.299502287264739"):
        assert printed in text, printed
    assert "error after: 0.291027773693599" in text
    assert "error after, updated that way: 0.2910279239" in text
    assert r"\frac{\partial \mathrm{Loss}}{\partial W_{1}}" in text  # the Derivation's text/latex


def test_worked_example_notebook_explains_the_two_paths():
    text = outputs(execute(NOTEBOOKS / "worked_example.ipynb"))
    assert "W1 -> H1 -> H4 -> Out -> Loss" in text and "W1 -> H1 -> H5 -> Out -> Loss" in text
    assert "backpropagation: X1*(W10*W14 + W13*W7)*sign(Out - Y)" in text
    assert "for Out - Y > 0 : dLoss/dW7 = H1*W13" in text


def test_layered_notebook_states_what_verification_finds():
    text = outputs(execute(NOTEBOOKS / "layered_notation.ipynb"))
    assert "w2_1_2 -> O2_2 -> O3_1 -> L" in text and "dO21/dw2_1_2 = 0" in text
    assert "first term: 0" in text and "equal (" in text
