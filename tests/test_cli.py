"""The CLI in-process (typer's CliRunner) and once end to end as a subprocess."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from derivchain.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_grad_w7_text():
    r = run("grad", "W7")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "2-3-2-1 dense network" in out
    assert "1 path from W7 to the loss" in out
    assert "W7 -> H4 -> Out -> Loss" in out
    assert "dLoss/dOut * dOut/dH4 * dH4/dW7 = sign(Out - Y) * W13 * H1" in out
    assert "Case Out - Y > 0: dLoss/dW7 = H1*W13" in out
    assert "Verdict: equal" in out


def test_grad_w1_text():
    out = run("grad", "W1").output
    assert "2 paths from W1 to the loss" in out
    assert "W1 -> H1 -> H4 -> Out -> Loss" in out and "W1 -> H1 -> H5 -> Out -> Loss" in out
    assert "delta_H1 = W7*delta_H4 + W10*delta_H5" in out
    assert "Backpropagation: dLoss/dW1 = X1*delta_H1 = X1*(W10*W14 + W13*W7)*sign(Out - Y)" in out
    assert "Verdict: equal [expansion]" in out
    assert "d|u|/du = sign(u)" in out


def test_grad_json_contract():
    r = run("grad", "W1", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    for key in ("weight", "loss", "direct", "path_sum", "path_sum_local", "backprop", "paths", "equal", "method", "latex"):
        assert key in data
    assert data["weight"] == "W1" and data["loss"] == "Abs(Out - Y)" and data["equal"] is True
    assert data["path_sum_local"] == "W10*W14*X1*sign(Out - Y) + W13*W7*X1*sign(Out - Y)"
    assert data["backprop"] == "X1*(W10*W14 + W13*W7)*sign(Out - Y)"
    assert [p["nodes"] for p in data["paths"]] == [
        ["W1", "H1", "H4", "Out", "Loss"],
        ["W1", "H1", "H5", "Out", "Loss"],
    ]
    assert data["paths"][0]["factors"][0] == {"partial": "dLoss/dOut", "value": "sign(Out - Y)"}
    assert data["paths"][1]["term"] == "W10*W14*X1*sign(Out - Y)"
    assert data["latex"]["backprop"].startswith("X_{1}")


def test_grad_output_is_deterministic():
    a = run("grad", "W2", "--activation", "sigmoid", "--bias", "--format", "json").output
    b = run("grad", "W2", "--activation", "sigmoid", "--bias", "--format", "json").output
    assert a == b


@pytest.mark.parametrize("fmt, marker", [("latex", r"\begin{align*}"), ("markdown", "$$")])
def test_grad_other_formats(fmt, marker):
    r = run("grad", "W1", "--format", fmt)
    assert r.exit_code == 0 and marker in r.output
    assert r"\frac{\partial \mathrm{Loss}}{\partial W_{1}}" in r.output


def test_show_json_contract():
    data = json.loads(run("show", "--format", "json").output)
    assert data["layers"] == [2, 3, 2, 1]
    assert data["inputs"] == ["X1", "X2"] and data["targets"] == ["Y"]
    assert data["hidden"] == ["H1", "H2", "H3", "H4", "H5"] and data["outputs"] == ["Out"]
    assert data["weights"] == [f"W{i}" for i in range(1, 15)] and data["biases"] == []
    assert data["equations"]["H1"] == "W1*X1 + W2*X2"
    assert data["equations"]["Out"] == "H4*W13 + H5*W14"
    assert data["loss"] == "Abs(Out - Y)"
    assert data["outputs_expanded"]["Out"].count("+") == 11  # a JSON object: output name -> text


def test_show_text_and_options():
    out = run("show", "--layers", "2,2,2", "--activation", "tanh", "--bias", "--loss", "squared").output
    assert "H1 = tanh(B1 + W1*X1 + W2*X2)" in out
    assert "Loss = (Out1 - Y1)**2 + (Out2 - Y2)**2" in out


def test_paths_command_and_cap():
    r = run("paths", "W1", "--layers", "2,5,5,1", "--max-paths", "3")
    assert r.exit_code == 0
    assert "5 paths from W1 to the loss" in r.output and "2 more paths not shown" in r.output
    data = json.loads(run("paths", "W1", "--format", "json").output)
    assert data["count"] == 2 and len(data["paths"]) == 2


def test_grad_lists_up_to_the_cap_and_says_how_many_more():
    r = run("grad", "W1", "--layers", "2,10,10,10,1", "--max-paths", "3")
    assert r.exit_code == 0, r.output
    assert "100 paths from W1 to the loss" in r.output and "97 more paths not shown (raise --max-paths" in r.output
    assert "all 100 paths, accumulated by suffix" in r.output and "Verdict: equal" in r.output
    data = json.loads(run("grad", "W1", "--layers", "2,10,10,10,1", "--max-paths", "3", "--format", "json").output)
    assert data["path_count"] == 100 and data["paths_listed"] == 3 and len(data["paths"]) == 3


def test_max_paths_is_bounded():
    r = run("grad", "W1", "--max-paths", "1000000")
    assert r.exit_code == 2 and "--max-paths 1000000: give a number from 0 to 100000" in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["grad", "W99"], "Error: unknown weight 'W99'; this network has weights W1..W14"),
        (["grad", "W1", "--layers", "2,,1"], "Error: layers '2,,1': entry 2 is empty"),
        (["grad", "W1", "--layers", "0,1"], "Error: layers '0,1': entry 1 is 0"),
        (["grad", "W1", "--layers", "a,b"], "Error: layers 'a,b': entry 1 ('a') is not a whole number"),
        (["grad", "W1", "--activation", "swishy"], "Error: unknown activation 'swishy'; choose one of: identity, sigmoid, tanh, relu, leaky_relu, softplus, elu, swish, exp, square, leaky_relu:SLOPE"),
        (["grad", "W1", "--output-activation", "x"], "Error: unknown activation 'x'; choose one of"),
        (["grad", "W1", "--loss", "hinge"], "Error: unknown loss 'hinge'; choose one of: abs, squared, half-squared, cross-entropy, softmax"),
        (["show", "--format", "xml"], "Error: Invalid value for '--format' / '-f': 'xml' is not one of 'text', 'latex', 'markdown', 'json', 'html', 'jsonl'."),
        (["paths", "B1"], "Error: unknown weight 'B1'; this network has weights W1..W14"),
    ],
)
def test_bad_input_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    lines = [l for l in r.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), r.output
    assert "Traceback" not in r.output


def test_end_to_end_subprocess():
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    ok = subprocess.run([sys.executable, "-m", "derivchain", "grad", "W1"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "Verdict: equal" in ok.stdout and ok.stderr == ""
    bad = subprocess.run([sys.executable, "-m", "derivchain", "grad", "W99"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "Error: unknown weight 'W99'; this network has weights W1..W14; inputs X1, X2; target Y"


def test_long_table_streams_without_a_bar_when_not_a_terminal():
    # 2-8-8-1 has 88 parameters, past the progress-bar threshold; under CliRunner stderr is no
    # terminal, so only rows are printed, one per parameter, in order.
    r = run("table", "--layers", "2,8,8,1")
    assert r.exit_code == 0, r.output
    rows = [l for l in r.output.splitlines() if l[:1] in ("W", "B")]
    assert [l.split()[0] for l in rows] == [f"W{i}" for i in range(1, 89)]
    assert "deriving" not in r.output and all("equal" in l for l in rows)


def test_the_process_ends_without_the_interpreters_teardown_and_nothing_is_lost(monkeypatch, tmp_path):
    # Issue 26's cold start: the console script ends with os._exit once stdout and stderr are flushed (the
    # teardown freed every SymPy object one by one). In process: main() with no argv ends that way with the
    # command's own code; with an argv (a caller's), it raises SystemExit as before.
    import derivchain.cli as cli_module

    ended = []

    def exit_now(code):
        ended.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(cli_module.os, "_exit", exit_now)
    for argv, code in ((["grad", "W1"], 0), (["grad", "W99"], 2)):
        monkeypatch.setattr(sys, "argv", ["derivchain", *argv])
        with pytest.raises(SystemExit):
            cli_module.main()
        assert ended.pop() == code
        with pytest.raises(SystemExit) as raised:
            cli_module.main(argv)
        assert raised.value.code == code and not ended
    # As a process: a long output through a pipe and into a file is whole, and the exit codes are kept.
    table = run("table", "--layers", "3,4,4,1", "--format", "json")
    piped = subprocess.run([sys.executable, "-m", "derivchain", "table", "--layers", "3,4,4,1", "--format", "json"],
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout == table.output and len(piped.stdout) > 5_000
    with open(tmp_path / "out.json", "w") as out:
        done = subprocess.run([sys.executable, "-m", "derivchain", "table", "--layers", "3,4,4,1", "--format", "json"], stdout=out)
    assert done.returncode == 0 and (tmp_path / "out.json").read_text() == table.output
    wrong = subprocess.run([sys.executable, "-m", "derivchain", "check", "W7", "W13"], capture_output=True, text=True)
    assert wrong.returncode == 1 and "W13" in wrong.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_said_as_such_not_as_a_bug():
    # It said "internal error (OSError: [Errno 28] No space left on device); please report it".
    for args in (["grad", "W1"], ["table", "--layers", "2,2,1", "--format", "json"]):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "derivchain", *args], stdout=full, stderr=subprocess.PIPE, text=True)
        assert done.returncode == 3
        assert done.stderr.strip() == ("Error: the output could not be written (No space left on device); "
                                       "free some space or write elsewhere")


def test_output_lost_at_the_last_flush_is_said_and_fails(monkeypatch, capsys):
    # Ending without the teardown must not end quietly when the output could not be written (a full disk).
    import io

    import derivchain.cli as cli_module

    class Full(io.StringIO):
        def flush(self):
            raise OSError(28, "No space left on device")

    ended = []
    monkeypatch.setattr(cli_module.os, "_exit", ended.append)
    monkeypatch.setattr(sys, "stdout", Full())
    cli_module._exit_now(0)
    assert ended == [3] and "output could not be written (No space left on device)" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    cli_module._exit_now(1)
    assert ended == [3, 1]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["grad", "--help"], ["export", "--help"]])
def test_help_and_version_do_not_import_sympy(args):
    # Issue 14: --help and --version answer without paying for SymPy's import.
    code = ("import sys; from derivchain.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules)" % (args,))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout[-500:] + done.stderr[-500:]


@pytest.mark.parametrize("nodes", [
    [("h", "max(heaviside(x, p), q)")],
    [("h", "heaviside(x, p)*x"), ("m", "max(h, q)")],  # exit 3 (AttributeError) before
])
def test_a_parameter_as_heavisides_value_at_0(tmp_path, nodes):
    # SymPy cannot differentiate Heaviside in its value at 0: that d/dp(...) was printed beside "equal".
    path = tmp_path / "net.toml"
    path.write_text(f'loss = "{nodes[-1][0]}"\n' + "".join(f'[[nodes]]\nname = "{n}"\nexpr = "{e}"\n' for n, e in nodes))
    for command in ("grad", "steps", "formula"):
        r = run(command, "p", "--network", str(path))
        assert r.exit_code == 0, r.output
        assert "d/dp(Heaviside" not in r.output and "Derivative" not in r.output
        assert "1 - sign(x)**2" in r.output  # its derivative in the value at 0: 1 at x = 0, else 0
    r = run("grad", "p", "--network", str(path))
    assert "Verdict: equal" in r.output and "derivative in v is 1 - sign(u)**2" in r.output


@pytest.mark.parametrize("activation", ["sign(x)", "heaviside(x)", "heaviside(x, 0) + 2*sign(x - 1)"])
def test_step_activations_are_decided(activation):
    # SymPy writes their derivative with DiracDelta, which parsed back nowhere; derivchain's convention is 0,
    # so both forms are 0 and the verdict is decided (it was "undecided").
    r = run("grad", "W7", "--activation", activation)
    assert r.exit_code == 0, r.output
    assert "DiracDelta" not in r.output
    assert "Verdict: equal [identical]" in r.output and "Direct: dLoss/dW7 = 0" in r.output


@pytest.mark.parametrize("args, message", [
    # a new user's trial: each error names the real problem and the fix
    (("export", "--out", "notes.pdf"), "a PDF is compiled from LaTeX: write --out notes.tex --pdf"),
    (("export", "--out", "notes.md", "--title", "  "), "--title is empty"),
    (("grad", "W1", "--set==1"), "the name before '=' is empty"),
    (("grad", "W1", "--network", "foo:x=1"), "'foo:x=1': unknown builder; use rnn:"),
    (("grad", "W1", "--network", "rnn:steps=2,hiden=2"), "'hiden' is not a key of rnn; use steps, hidden"),
    (("grad", "W1", "--network", "rnn:steps=2,hidden"), "'hidden' is not key=value"),
    (("grad", "W1", "--network", "rnn:steps=99999999"), "steps=99999999 is too large"),
    (("grad", "W1", "--layers", "2,99999999999999999999999,1"), "is too large; a layer has at most 1000 neurons (--limit width=N)"),
])
def test_errors_name_the_problem_and_the_fix(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_suffix_in_capitals_is_the_same_format(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("export", "--out", "NOTES.HTML").exit_code == 0
    assert (tmp_path / "NOTES.HTML").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html>")
    assert run("draw", "--out", "NET.SVG").exit_code == 0 and (tmp_path / "NET.SVG").read_text().lstrip().startswith("<svg")


def test_small_texts_a_new_user_stumbled_on():
    # a loss written as a formula was printed twice: "loss (Out - Y)**4 ((Out - Y)**4)"
    r = run("grad", "W1", "--loss", "(Out - Y)**4", "--layers", "2,1")
    assert "; loss (Out - Y)**4; no biases" in r.output.splitlines()[0]
    assert "loss squared ((Out - Y)**2)" in run("grad", "W1", "--loss", "squared", "--layers", "2,1").output
    # "Out expanded: not expanded: more than 2000 terms"
    out = run("show", "--output-activation", "x**x", "--layers", "2,1").output
    assert "Out expanded: not written out (more than 2000 terms)" in out and "not expanded" not in out


def test_table_rows_are_in_delta_form_after_the_deltas_and_expand_keeps_the_old_rows():
    r = run("table", "--layers", "2,2,1", "--activation", "sigmoid", "--loss", "half-squared")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[1].startswith("Deltas") and lines[2:5] == ["  delta_Out = Out - Y", "  delta_H1 = H1*(1 - H1)*W5*delta_Out",
                                                         "  delta_H2 = H2*(1 - H2)*W6*delta_Out"]
    assert lines[6].split()[0] == "W1" and lines[6].endswith("X1*delta_H1") and lines[-1].endswith("H2*delta_Out")
    old = run("table", "--layers", "2,2,1", "--activation", "sigmoid", "--loss", "half-squared", "--expand").output.splitlines()
    assert "Deltas" not in old[1] and old[2].endswith("H1*(1 - H1)*W5*X1*(Out - Y)")


def test_grad_of_several_weights_prints_each_and_refuses_a_document_format():
    r = run("grad", "W1", "W13", "--format", "json")
    assert r.exit_code == 0, r.output
    objects = json.loads(r.output)
    assert [o["weight"] for o in objects] == ["W1", "W13"]
    assert objects[0] == json.loads(run("grad", "W1", "--format", "json").output)  # each the one-weight contract
    lines = run("grad", "W1", "W13", "--format", "jsonl").output.splitlines()
    assert [json.loads(l)["weight"] for l in lines] == ["W1", "W13"]
    text = run("grad", "W1", "W13").output
    assert "2 paths from W1 to the loss" in text and "1 path from W13 to the loss" in text
    bad = run("grad", "W1", "W13", "--format", "latex")
    assert bad.exit_code == 2 and bad.output.strip().startswith("Error: grad W1 W13: several weights print in text, json or jsonl")


def test_jsonl_of_a_single_result_is_its_json_on_one_line():
    one = run("grad", "W1", "--format", "jsonl").output
    assert one.count("\n") == 1 and json.loads(one) == json.loads(run("grad", "W1", "--format", "json").output)


def test_the_l2_note_says_what_is_regularised():
    # a graph file's b1 is regularised (its expression nodes name no biases); the note said "biases excluded"
    graph = os.path.join(os.path.dirname(__file__), "..", "examples", "two_layer_batch.toml")
    r = run("grad", "b2[0,0]", "--network", graph, "--l2", "0.1")
    note = next(line for line in r.output.splitlines() if line.startswith("Note: L2"))
    assert "biases excluded" not in note and "every parameter of the expression nodes included" in note
    assert "b2[0,0]/10" in r.output  # and it is: the path-free term lambda * b2[0,0]
    dense = run("grad", "W1", "--l2", "0.1", "--bias").output
    assert "biases excluded" in next(line for line in dense.splitlines() if line.startswith("Note: L2"))


def test_an_option_of_another_command_names_the_commands_that_take_it():
    # table --values said "Possible options: --layers" (a near spelling among table's own options): the commands
    # that take --values are named; a misspelling no command takes keeps click's own words. As installed (main()
    # builds only the command named) and in-process.
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    bad = subprocess.run([sys.executable, "-m", "derivchain", "table", "--values", "x.json"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == "", bad
    line = bad.stderr.strip()
    assert len(line.splitlines()) == 1 and "--layers" not in line, line
    assert line.startswith("Error: No such option for table: --values (taken by ") and "grad" in line and "hessian" in line
    assert line.endswith("(see derivchain table --help)")
    out = CliRunner().invoke(app, ["grad", "W1", "--newton"])
    assert out.exit_code == 2 and "--newton (taken by hessian)" in out.output, out.output
    out = CliRunner().invoke(app, ["table", "--valuez", "x"])
    assert out.exit_code == 2 and "No such option: --valuez" in out.output and "taken by" not in out.output


def test_a_long_command_shows_a_status_line_on_a_terminal_stderr_only():
    # export --pdf or a full Hessian ran 10-15 s printing nothing. With stderr a terminal a status line (spinner,
    # command, time) shows on stderr after a second and is cleared; stdout has the same bytes as with no terminal,
    # and with stderr not a terminal nothing at all is written to it.
    import pty
    import select
    import threading

    params = ",".join(f"W{i}" for i in range(1, 201))
    values = {f"X{i}": (i % 3 - 1) / 2 for i in range(1, 9)} | {"Y": 0.5} | {f"W{i}": ((i * 7) % 11 - 5) / 10 for i in range(1, 401)}
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"status_values_{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump(values, f)
    args = [sys.executable, "-m", "derivchain", "hessian", "--layers", "8,16,16,1", "--activation", "tanh", "--loss", "squared",
            "--values", path, "--params", params, "--format", "json"]
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "COLUMNS": "120"}
    plain = subprocess.run(args, capture_output=True, env=env)
    assert plain.returncode == 0 and plain.stderr == b"", plain.stderr
    main, child = pty.openpty()
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=child, env=env)
    os.close(child)
    chunks = []

    def drain():  # the terminal read as it is written (a full pty would stall the spinner, then the command)
        while select.select([main], [], [], 60)[0]:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child's end closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = run.stdout.read()
    run.wait()
    reader.join(10)
    os.close(main)
    seen = b"".join(chunks)
    os.remove(path)
    assert run.returncode == 0 and out == plain.stdout  # the JSON never holds the status line
    assert b"derivchain hessian: working" in seen, seen[:300]
