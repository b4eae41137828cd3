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
    if path.name.startswith("pytorch_"):
        pytest.importorskip("torch")  # PyTorch is optional (the cross-check extra)
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


def test_bptt_notebook_checks_the_gradient_by_hand():
    text = outputs(execute(NOTEBOOKS / "bptt_path_by_path.ipynb"))
    # One path per use of U after the first step, each with its verified chain of partials.
    assert "U@h2 -> h2 -> h3 -> Out -> Loss" in text and "U@h3 -> h3 -> Out -> Loss" in text
    assert "dLoss/dOut * dOut/dh3 * dh3/dh2 * dh2/dU = (Out - Y) * V * U*(1 - h3**2) * h1*(1 - h2**2)" in text
    assert "Backpropagation: dLoss/dU = h1*delta_h2 + h2*delta_h3 = " in text
    assert "delta_h2 = (1 - h2**2)*U*delta_h3" in text and "Verdict: equal" in text
    assert "every printed equality verified: True" in text
    # At the values: each path, their sum, the three engines, the hand loop and a finite difference agree.
    assert "path U@h2 -> h2 -> h3 -> Out -> Loss: -0.089626578160" in text
    assert "path U@h3 -> h3 -> Out -> Loss: -0.381912857545" in text
    assert ("derivchain: sum over paths = -0.471539435704, backprop = -0.471539435704, "
            "direct = -0.471539435704") in text
    assert "delta_h3 = 0.750608767451" in text and "step 3: delta_h3 = 0.750608767451" in text
    assert "delta_h2 = -0.166886975928" in text and "step 2: delta_h2 = -0.166886975928" in text
    assert "hand BPTT loop: dLoss/dU = -0.471539435704" in text and "central difference: -0.471539436" in text
    assert "hand loop equals derivchain: True" in text and "central difference agrees: True" in text
    # Keeping only the last step's term gives another number, short by the dropped path.
    assert "last step only (the mistake):      -0.381912857545" in text
    assert "what it drops (path through U@h2): -0.089626578160" in text
    assert "last step only equals dLoss/dU: False" in text
    # Path counts of U_1_1 for rnn(steps=T, hidden=2), T = 5..40, counted without enumeration: 2^(T-1) - 1.
    counts = [2 ** (T - 1) - 1 for T in range(5, 41, 5)]
    assert f"path counts: {counts}" in text and "count = 2^(T-1) - 1 for every T: True" in text
    assert "Derivation(dLoss/dU_1_1: 549755813887 paths, equal)" in text
    assert "backprop terms (one per use of U_1_1): 39" in text


def test_conv1d_notebook_checks_the_kernel_gradient_by_hand():
    text = outputs(execute(NOTEBOOKS / "one_kernel_many_paths.ipynb"))
    for j in (1, 2, 3):
        assert f"k{j}: 3 paths" in text
        for i in (1, 2, 3):
            assert f"k{j}@o{i} -> o{i} -> Loss | dLoss/do{i} * do{i}/dk{j} = (o{i} - y{i}) * x{i + j - 1}" in text
        # The kernel's gradient is the cross-correlation of the input with the output deltas.
        assert (f"Backpropagation: dLoss/dk{j} = x{j}*delta_o1 + x{j + 1}*delta_o2 + x{j + 2}*delta_o3 = ") in text
    assert text.count("every printed equality verified: True") == 3
    assert "dLoss/dc = delta_o1 + delta_o2 + delta_o3" in text
    # Saliency: x3 is read at every position, through the kernel flipped.
    assert "x3: 3 paths" in text and "x1: 1 path," in text and "x2: 2 paths" in text
    assert "dLoss/dx3 = k3*delta_o1 + k2*delta_o2 + k1*delta_o3" in text
    # At integers, derivchain's exact values equal the hand computation and the central differences.
    for printed in ("dLoss/dk1 = 16   paths: (-1) + (14) + (3); sum 16, backprop 16, direct 16",
                    "dLoss/dk2 = -12 ", "dLoss/dk3 = 5 ", "dLoss/dc = 3 ",
                    "dLoss/dx3 = -14   paths: (-1) + (-7) + (-6); sum -14, backprop -14, direct -14",
                    "outputs: o1 = 0, o2 = 7, o3 = -1 | Loss = 29.5",
                    "o = [0, 7, -1] | delta = [-1, 7, -3] | Loss = 29.5",
                    "by hand: {'k1': 16, 'k2': -12, 'k3': 5, 'c': 3, 'x3': -14}",
                    "by hand equals derivchain: True"):
        assert printed in text, printed


def test_paths_to_matrices_notebook_finds_the_path_sum_in_delta_a_transpose():
    text = outputs(execute(NOTEBOOKS / "paths_to_matrices.ipynb"))
    assert "W3 -> H2 -> H4 -> Out -> Loss" in text and "W3 -> H2 -> H5 -> Out -> Loss" in text
    assert "path sum = 0.0508280327337498" in text
    assert "entry (2, 1) of dL/dW^1 = 0.0508280327337498" in text
    assert "agrees with the path sum to 40 digits: True" in text
    assert "every entry checked: 14 of 14, all equal: True" in text
    assert "layer 2: W (2, 3), a_prev (3, 1), z (2, 1), delta (2, 1), grad_W (2, 3)" in text
    assert "column 2 of W^2: [W8, W11]" in text
    assert "entry 2 of delta^1: H2*(1 - H2)*(W11*delta_H5 + W8*delta_H4)" in text
    assert "scalar recursion:  delta_H2 = H2*(1 - H2)*(W8*delta_H4 + W11*delta_H5)" in text
    assert "W^2 delta^2 without the transpose: ShapeError" in text


def test_check_notebook_walks_through_the_learners_answers():
    text = outputs(execute(NOTEBOOKS / "check_your_derivation.ipynb"))
    assert "holds where: Out - Y > 0" in text and "case - right only where Out - Y > 0" in text
    assert "your answer: -2.25  the derivative: 2.25" in text
    assert "missing_path - the path W1 -> H1 -> H5 -> Out -> Loss is left out" in text
    assert "wrong_factor, missing_path" in text and "unknown" in text
    assert "first wrong line: 2" in text and "not correct: line 5 is the first wrong line (wrong_factor)" in text
    assert "scale: the answer is 2 times the derivative" in text
    assert "Verdict:" in text  # the Check itself, shown as a notebook shows every result


def test_pytorch_notebook_names_the_wrong_backward():
    pytest.importorskip("torch")
    text = outputs(execute(NOTEBOOKS / "pytorch_wrong_backward.ipynb"))
    assert "3 of 3 parameter entries differ; the first: fc.weight[0,0]." in text
    assert "sum over paths: 3*fc[0,0]**2*" in text and "verdict: equal" in text
