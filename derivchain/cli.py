"""The ``derivchain`` command: parse options, call one API function, render, map errors to exit codes.

Heavy imports (SymPy) happen inside the commands, so ``--help`` and start-up stay fast.
"""

from __future__ import annotations

import sys
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

Layers = Annotated[str, typer.Option("--layers", "-l", help="Layer sizes, input first, e.g. 2,3,2,1.")]
Activation = Annotated[str, typer.Option("--activation", "-a", help="Hidden activation: identity, sigmoid, tanh, relu.")]
OutputActivation = Annotated[str, typer.Option("--output-activation", help="Output activation: identity, sigmoid, tanh, relu.")]
Loss = Annotated[str, typer.Option("--loss", help="Loss: abs, squared, half-squared.")]
Bias = Annotated[bool, typer.Option("--bias/--no-bias", help="Give every neuron a bias B1, B2, ...")]
Format = Annotated[str, typer.Option("--format", "-f", help="Output: text, latex, markdown, json.")]
MaxPaths = Annotated[int, typer.Option("--max-paths", help="Most paths to enumerate before refusing.", min=1)]


class _Fail(Exception):
    """A one-line error for the user (exit code 2)."""


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise _Fail(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def _run(body) -> None:
    """Run a command body; library errors become one line on stderr and exit code 2."""
    from .errors import DerivchainError

    try:
        body()
    except (DerivchainError, _Fail) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None


def _network(layers, activation, output_activation, loss, bias):
    from .network import dense

    return dense(layers, activation=activation, output_activation=output_activation, loss=loss, bias=bias)


def _console():
    from rich.console import Console

    return Console(highlight=False)


@app.command()
def grad(
    weight: Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")],
    layers: Layers = "2,3,2,1",
    activation: Activation = "identity",
    output_activation: OutputActivation = "identity",
    loss: Loss = "abs",
    bias: Bias = False,
    fmt: Format = "text",
    max_paths: MaxPaths = 1000,
) -> None:
    """Derive dLoss/dWEIGHT three ways (paths, backprop, direct) and verify they agree."""

    def body():
        _check_format(fmt)
        from .derivation import derive

        d = derive(_network(layers, activation, output_activation, loss, bias), weight, max_paths=max_paths)
        if fmt == "json":
            from .render_json import derivation_json, dumps

            typer.echo(dumps(derivation_json(d)))
        elif fmt == "latex":
            from .render_latex import derivation_snippet

            typer.echo(derivation_snippet(d))
        elif fmt == "markdown":
            from .render_markdown import derivation_markdown

            typer.echo(derivation_markdown(d), nl=False)
        else:
            from .render_text import derivation_text

            _console().print(derivation_text(d))
        if not d.verdict.equal:
            raise typer.Exit(1)

    _run(body)


@app.command()
def paths(
    weight: Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")],
    layers: Layers = "2,3,2,1",
    activation: Activation = "identity",
    output_activation: OutputActivation = "identity",
    loss: Loss = "abs",
    bias: Bias = False,
    fmt: Format = "text",
    max_paths: MaxPaths = 1000,
) -> None:
    """List the paths from WEIGHT to the loss with the chain of partials along each."""

    def body():
        _check_format(fmt)
        from itertools import islice

        from .paths import count_paths, iter_paths

        net = _network(layers, activation, output_activation, loss, bias)
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
    layers: Layers = "2,3,2,1",
    activation: Activation = "identity",
    output_activation: OutputActivation = "identity",
    loss: Loss = "abs",
    bias: Bias = False,
    fmt: Format = "text",
) -> None:
    """Print the network's equations, its outputs nested and expanded, and the loss."""

    def body():
        _check_format(fmt)
        net = _network(layers, activation, output_activation, loss, bias)
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


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="derivchain")
