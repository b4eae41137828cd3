"""The ``derivchain`` command: parse options, call one API function, render, map errors to exit codes.

Heavy imports (SymPy) happen inside the commands, so ``--help`` and start-up stay fast.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Annotated, Optional

import typer

FORMATS = ("text", "latex", "markdown", "json")

app = typer.Typer(
    name="derivchain",
    help="Derive neural-network gradients symbolically: direct, sum over paths, backpropagation, verified equal.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

NetworkFile = Annotated[Optional[str], typer.Option("--network", "-n", help="A network file (.toml or .json) for any graph.")]
Layers = Annotated[Optional[str], typer.Option("--layers", "-l", help="Dense layer sizes, input first [default: 2,3,2,1].")]
Activation = Annotated[Optional[str], typer.Option("--activation", "-a", help="Hidden activation: a registry name, leaky_relu:SLOPE or an expression in x [default: identity].")]
OutputActivation = Annotated[Optional[str], typer.Option("--output-activation", help="Output activation, as --activation [default: identity].")]
Loss = Annotated[Optional[str], typer.Option("--loss", help="abs, squared, half-squared, cross-entropy, softmax, or an expression in Out and Y [default: abs].")]
Bias = Annotated[bool, typer.Option("--bias/--no-bias", help="Give every neuron a bias.")]
Notation = Annotated[Optional[str], typer.Option("--notation", help="flat (W1, H1, Out) or layered (w2_1_2, O2_1) [default: flat].")]
Format = Annotated[str, typer.Option("--format", "-f", help="Output: text, latex, markdown, json.")]
MaxPaths = Annotated[int, typer.Option("--max-paths", help="Most paths to list per weight (the count and the sum always cover all).")]
MAX_LISTED = 100_000  # listing more than this would print for minutes: refuse instead


class _Fail(Exception):
    """A one-line error for the user (exit code 2)."""


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise _Fail(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def _check_max_paths(max_paths: int) -> None:
    if not 1 <= max_paths <= MAX_LISTED:
        raise _Fail(f"--max-paths {max_paths}: give a number from 1 to {MAX_LISTED} (the count and the sum always cover every path)")


def _run(body) -> None:
    """Run a command body; library errors become one line on stderr and exit code 2."""
    from .errors import DerivchainError

    try:
        body()
    except (DerivchainError, _Fail) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


def _network(network, layers, activation, output_activation, loss, bias, notation):
    """The network from a file, or a dense one from the options (never both)."""
    if network is not None:
        given = [name for name, value in (("--layers", layers), ("--activation", activation),
                 ("--output-activation", output_activation), ("--loss", loss), ("--notation", notation)) if value is not None]
        if bias:
            given.append("--bias")
        if given:
            raise _Fail(f"--network describes the whole network; drop {', '.join(given)} (set them in the file)")
        from .netfile import load_network

        return load_network(network)
    from .network import dense

    return dense(
        layers or "2,3,2,1",
        activation=activation or "identity",
        output_activation=output_activation or "identity",
        loss=loss or "abs",
        bias=bias,
        notation=notation or "flat",
    )


def _given_values(values, assign):
    """Numbers from --values FILE, overridden by each --set NAME=NUMBER; None when neither is given."""
    if not values and not assign:
        return None
    from .values import parse_assignments, read_values

    given = read_values(values) if values else {}
    given.update(parse_assignments(assign or []))
    return given


def _console():
    from rich.console import Console

    return Console(highlight=False)


@app.command()
def grad(
    weight: Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")],
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
    max_paths: MaxPaths = 1000,
    values: Annotated[Optional[str], typer.Option("--values", help="Numbers (.json/.toml) to evaluate every piece at.")] = None,
    assign: Annotated[Optional[list[str]], typer.Option("--set", help="NAME=NUMBER, repeatable; overrides --values.")] = None,
) -> None:
    """Derive dLoss/dWEIGHT three ways (paths, backprop, direct) and verify they agree."""

    def body():
        _check_format(fmt)
        _check_max_paths(max_paths)
        from .derivation import derive

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        numbers = _given_values(values, assign)
        if numbers is not None:
            from .values import check_values

            numbers = check_values(net, numbers)
        d = derive(net, weight, max_paths=max_paths)
        at = None
        if numbers is not None:
            from .at_values import at_values

            at = at_values(d, numbers)
        if fmt == "json":
            from .render_json import at_values_json, derivation_json, dumps

            out = derivation_json(d)
            if at is not None:
                out["at_values"] = at_values_json(d, at)
            typer.echo(dumps(out))
        elif fmt == "latex":
            from .render_latex import derivation_snippet

            typer.echo(derivation_snippet(d))
        elif fmt == "markdown":
            from .render_markdown import derivation_markdown

            typer.echo(derivation_markdown(d), nl=False)
        else:
            from .render_text import at_values_text, derivation_text

            console = _console()
            console.print(derivation_text(d))
            if at is not None:
                console.print(at_values_text(d, at))
        if not d.verdict.equal:
            raise typer.Exit(1)

    _run(body)


@app.command()
def paths(
    weight: Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")],
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
    max_paths: MaxPaths = 1000,
) -> None:
    """List the paths from WEIGHT to the loss with the chain of partials along each."""

    def body():
        _check_format(fmt)
        _check_max_paths(max_paths)
        from itertools import islice

        from .paths import count_paths, iter_paths

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        symbol = net.parameter(weight)
        count = count_paths(net, symbol)
        shown = tuple(islice(iter_paths(net, symbol), max_paths))
        if fmt == "json":
            from .render_json import dumps, paths_json

            typer.echo(dumps(paths_json(symbol, count, shown)))
        elif fmt in ("latex", "markdown"):
            from .render_latex import paths_snippet

            snippet = paths_snippet(symbol, count, shown)
            typer.echo(snippet if fmt == "latex" else f"$$\n{snippet}\n$$")
        else:
            from .render_text import paths_tree

            noun = "path" if count == 1 else "paths"
            _console().print(paths_tree(f"{count} {noun} from {weight} to the loss", shown, count))

    _run(body)


@app.command()
def show(
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
) -> None:
    """Print the network's equations, its outputs nested and expanded, and the loss."""

    def body():
        _check_format(fmt)
        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        if fmt == "latex":
            from .render_latex import network_snippet

            typer.echo(network_snippet(net))
            return
        if fmt == "markdown":
            from .render_markdown import network_markdown

            typer.echo(network_markdown(net), nl=False)
            return
        expanded = {n.name: net.expanded_output(n) for n in net.outputs}
        if fmt == "json":
            from .render_json import dumps, network_json

            typer.echo(dumps(network_json(net, expanded)))
        else:
            from .render_text import network_text

            _console().print(network_text(net, expanded))

    _run(body)


@app.command()
def table(
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
    max_paths: MaxPaths = 1000,
) -> None:
    """Every weight and bias: its number of paths, its gradient in neuron symbols, and the verdict."""

    def body():
        _check_format(fmt)
        _check_max_paths(max_paths)
        from .derivation import derive

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        # Text and LaTeX rows show no paths: list none (the sum is then taken by suffix).
        listed = max_paths if fmt == "json" else 0
        rows = (derive(net, p, max_paths=listed) for p in net.parameters)
        failed = False
        if fmt == "json":
            from .render_json import derivation_json, dumps

            # Streamed: each object is printed as soon as it is derived.
            typer.echo("[")
            for i, d in enumerate(rows):
                failed |= not d.verdict.equal
                text = "  " + dumps(derivation_json(d)).replace("\n", "\n  ")
                typer.echo(("," if i else "") + text)
            typer.echo("]")
        elif fmt in ("latex", "markdown"):
            from .printing import DerivPrinter

            printer = DerivPrinter()
            lines = []
            for d in rows:
                failed |= not d.verdict.equal
                lhs = printer.partial(net.loss_symbol, d.parameter)
                lines.append(r"%s &= %s && \text{%d path%s; %s}" % (lhs, printer._print(d.backprop.local), d.path_count,
                             "" if d.path_count == 1 else "s", printer.text(f"{d.verdict.word}, {d.verdict.method}")))
            body_tex = "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"
            typer.echo(body_tex if fmt == "latex" else f"$$\n{body_tex}\n$$")
        else:
            from .render_text import table_header, table_row

            console = _console()
            console.print(_summary_line(net))
            console.print(table_header())
            with _progress(len(net.parameters)) as advance:
                for d in rows:
                    failed |= not d.verdict.equal
                    console.print(table_row(d))
                    advance()
        if failed:
            raise typer.Exit(1)

    _run(body)


PROGRESS_FROM = 50  # parameters; below this a table is done before a bar would help


@contextmanager
def _progress(total: int):
    """A transient progress bar on stderr for long tables, when stderr is a terminal; else nothing."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("deriving", total=total)
        yield lambda: progress.advance(task)


def _summary_line(net):
    """The network in one bold-labelled line."""
    from rich.text import Text

    return Text.assemble(("Network: ", "bold"), net.summary())


@app.command()
def formula(
    weight: Annotated[Optional[str], typer.Argument(help="Instantiate the equations for this weight or bias.")] = None,
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
) -> None:
    """The backpropagation equations at an arbitrary layer, then instantiated for WEIGHT."""

    def body():
        _check_format(fmt)
        from .backpropagation import backprop
        from .formula import general_formula

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        general = general_formula(net)
        bp = backprop(net, net.parameter(weight)) if weight else None
        if fmt == "json":
            from .render_json import dumps

            out = {"notation": general.notation, "general": general.text, "general_latex": general.latex}
            if bp is not None:
                out["weight"] = bp.parameter.name
                out["instance"] = {
                    "gradient": f"{bp.source.name if bp.source is not None else 1} * delta_{bp.neuron.name}",
                    "deltas": [{"delta": e.delta.name, "rhs": str(e.rhs), "value": str(e.value)} for e in bp.deltas],
                    "value": str(bp.local),
                }
            typer.echo(dumps(out))
            return
        if fmt in ("latex", "markdown"):
            from .render_latex import delta_rhs_latex
            from .printing import DerivPrinter

            printer = DerivPrinter()
            lines = list(general.latex)
            if bp is not None:
                lhs = printer.partial(net.loss_symbol, bp.parameter)
                source = printer._print(bp.source) if bp.source is not None else "1"
                lines.append(r"%s = %s \, %s" % (lhs, source, printer.name(f"delta_{bp.neuron.name}")))
                lines += [r"%s = %s" % (printer._print(e.delta), delta_rhs_latex(e, printer)) for e in bp.deltas]
                lines.append(r"%s = %s" % (lhs, printer._print(bp.local)))
            tex = "\\begin{gather*}\n" + " \\\\\n".join(lines) + "\n\\end{gather*}"
            typer.echo(tex if fmt == "latex" else f"$$\n{tex}\n$$")
            return
        from rich.text import Text

        from .render_text import delta_rhs_text

        console = _console()
        console.print(Text(f"Backpropagation at an arbitrary layer ({general.notation} notation):", "bold"))
        for line in general.text:
            console.print(Text("  " + line))
        if bp is not None:
            d_loss = net.loss_symbol.name
            source = bp.source.name if bp.source is not None else "1"
            console.print(Text(f"For {bp.parameter.name}:", "bold"))
            console.print(Text(f"  d{d_loss}/d{bp.parameter.name} = {source} * delta_{bp.neuron.name}"))
            for e in bp.deltas:
                console.print(Text(f"  {e.delta} = {delta_rhs_text(e)}"))
            console.print(Text(f"  d{d_loss}/d{bp.parameter.name} = {bp.local}"))

    _run(body)


@app.command()
def step(
    values: Annotated[Optional[str], typer.Option("--values", help="A .json or .toml file of name = number.")] = None,
    assign: Annotated[Optional[list[str]], typer.Option("--set", help="NAME=NUMBER, repeatable; overrides --values.")] = None,
    lr: Annotated[str, typer.Option("--lr", help="Learning rate (exact: 0.5 is 1/2).")] = "0.1",
    steps: Annotated[int, typer.Option("--steps", help="How many steps to take.")] = 1,
    freeze: Annotated[Optional[list[str]], typer.Option("--freeze", help="Keep parameters matching this glob fixed, e.g. 'B*'; repeatable.")] = None,
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
) -> None:
    """One (or --steps) gradient-descent step: w_new = w_old - lr * dLoss/dw, for every parameter."""

    def body():
        _check_format(fmt)
        from .descent import descend
        from .values import check_values, read_number

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        given = _given_values(values, assign)
        if not given:
            raise _Fail("step needs numbers: --values FILE or --set NAME=NUMBER for every input, target, weight and bias")
        rate = read_number(lr, "--lr")
        with _progress(steps) as advance:
            result = descend(net, check_values(net, given), rate, steps, tuple(freeze or ()), on_step=advance)
        first, last = result.steps[0], result.steps[-1]
        if fmt == "json":
            from .render_json import dumps

            typer.echo(dumps({
                "lr": float(rate),
                "steps": steps,
                "exact": result.exact,
                "frozen": list(result.frozen),
                "loss": float(first.loss),
                "gradients": {k: float(v) for k, v in first.gradients.items()},
                "updated": {k: float(v) for k, v in last.updated.items()},
                "loss_after": float(last.loss_after),
                "losses": [float(s.loss) for s in result.steps] + [float(last.loss_after)],
            }))
            return
        from rich.table import Table

        console = _console()
        console.print(_summary_line(net))
        how = "exact arithmetic" if result.exact else "50-digit arithmetic, 15 significant digits shown"
        table = Table(title=f"gradient descent, lr = {lr}, {steps} step{'s' if steps > 1 else ''} ({how})")
        for col in ("parameter", "old value", "gradient" + (" (first step)" if steps > 1 else ""), "new value"):
            table.add_column(col)
        from .values import Number

        for name in result.trained:
            table.add_row(name, str(Number(given[name], True)), str(first.gradients[name]), str(last.updated[name]))
        console.print(table)
        if result.frozen:
            console.print(f"kept fixed: {', '.join(result.frozen)}")
        console.print(f"loss before: {first.loss}")
        if steps > 1:
            for i, s in enumerate(result.steps[1:], start=1):
                console.print(f"loss after step {i}: {s.loss}")
        console.print(f"loss after: {last.loss_after}")

    _run(body)


@app.command()
def steps(
    weight: Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")],
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    fmt: Format = "text",
) -> None:
    """The step-by-step derivation of dLoss/dWEIGHT: one rewriting per line, each with its reason."""

    def body():
        _check_format(fmt)
        from .render_latex import steps_latex
        from .steps import derivation_steps

        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        chain = derivation_steps(net, weight)
        if fmt == "json":
            from .render_json import dumps

            from .printing import text

            typer.echo(dumps({"weight": weight, "steps": [{"expr": text(s.expr), "reason": s.reason} for s in chain]}))
        elif fmt in ("latex", "markdown"):
            from .printing import DerivPrinter

            tex = "\\begin{align*}\n" + " \\\\\n".join(steps_latex(chain, DerivPrinter())) + "\n\\end{align*}"
            typer.echo(tex if fmt == "latex" else f"$$\n{tex}\n$$")
        else:
            from rich.text import Text

            from .printing import text

            console = _console()
            console.print(Text(f"d{net.loss_symbol.name}/d{weight}, step by step:", "bold"))
            for i, s in enumerate(chain):
                console.print(Text.assemble(("  = " if i else "    ", "bold"), text(s.expr), (f"    [{s.reason}]", "dim")))

    _run(body)


@app.command()
def draw(
    weight: Annotated[Optional[str], typer.Argument(help="Highlight the paths of this weight or bias.")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="The file to write: .tex (TikZ) or .svg.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
) -> None:
    """Draw the network (TikZ or SVG), with the paths of WEIGHT highlighted."""

    def body():
        from pathlib import Path

        from .diagram import svg, tikz
        from .export import write_new

        target = Path(out) if out else None
        if target is None or target.suffix not in (".tex", ".svg"):
            raise _Fail("draw needs --out FILE ending in .tex (TikZ) or .svg")
        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        text = tikz(net, weight) if target.suffix == ".tex" else svg(net, weight)
        write_new(target, text + "\n", force)
        typer.echo(f"wrote {target}")

    _run(body)


@app.command()
def export(
    weights: Annotated[Optional[list[str]], typer.Argument(help="Weights and biases to include, or all (default).")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="The file to write: .tex or .md.")] = "",
    snippet: Annotated[bool, typer.Option("--snippet", help="Only the body, to paste into an existing document.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also compile the .tex with a LaTeX engine.")] = False,
    title: Annotated[str, typer.Option("--title", help="The document's title.")] = "Gradients by the chain rule",
    network: NetworkFile = None,
    layers: Layers = None,
    activation: Activation = None,
    output_activation: OutputActivation = None,
    loss: Loss = None,
    bias: Bias = False,
    notation: Notation = None,
    max_paths: MaxPaths = 1000,
) -> None:
    """Write the derivations as a LaTeX or Markdown document (or snippet); --pdf compiles it."""

    def body():
        from pathlib import Path

        from .derivation import derive
        from .export import compile_pdf, latex_document, markdown_document, write_new

        if not out:
            raise _Fail("export needs --out FILE ending in .tex or .md")
        target = Path(out)
        if target.suffix not in (".tex", ".md"):
            raise _Fail(f"--out {out}: choose a file ending in .tex (LaTeX) or .md (Markdown)")
        if pdf and (target.suffix != ".tex" or snippet):
            raise _Fail("--pdf compiles a whole .tex document: use --out FILE.tex without --snippet")
        _check_max_paths(max_paths)
        net = _network(network, layers, activation, output_activation, loss, bias, notation)
        chosen = net.parameters if not weights or weights == ["all"] else [net.parameter(w) for w in weights]
        derivations = [derive(net, p, max_paths=max_paths) for p in chosen]
        if target.suffix == ".tex":
            write_new(target, latex_document(net, derivations, title, snippet), force)
        else:
            # Markdown hosts render SVG images: the diagram goes beside the .md file.
            from .diagram import svg

            picture = target.with_name(target.stem + "-network.svg")
            for path in (target, picture):  # refuse before writing either, so nothing is left half done
                if path.exists() and not force:
                    raise _Fail(f"{path} already exists; pass --force to replace it")
            write_new(picture, svg(net, derivations[0].parameter if len(derivations) == 1 else None) + "\n", force)
            text = markdown_document(net, derivations, title, snippet)
            write_new(target, text.replace("## Network\n", f"## Network\n\n![the network]({picture.name})\n", 1), force)
        typer.echo(f"wrote {target} ({len(derivations)} derivation{'s' if len(derivations) != 1 else ''})")
        if pdf:
            made, _ = compile_pdf(target, force)
            typer.echo(f"wrote {made}")

    _run(body)


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="derivchain")
