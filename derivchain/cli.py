"""The ``derivchain`` command: parse options, call one API function, hand the result to ``emit``.

Typed library errors become one line on stderr and an exit code (see ``EXIT_CODES``). SymPy is imported
only inside the commands, so ``--help`` and ``--version`` stay fast.
"""

import contextlib
import copy
import errno
import functools
import inspect
import os
import sys
from typing import Annotated, Optional

from typer.core import _click as click  # typer vendors click (a private name: pinned typer < 0.29)
import typer
from typer.core import TyperGroup

from .renderers.formats import Format, help_text as format_help

#: What each exit code means.
EXIT_CODES = {
    0: "success (every printed equality verified)",
    1: "the forms were not shown equal (NOT equal, or undecided)",
    2: "bad input or options, or a size past a limit: one line on stderr says what and how to fix it",
    3: "an unexpected internal error (one line; --debug shows the traceback)",
}

class _OneLineErrors(TyperGroup):
    """The command group, with usage errors as one line (``Error: ... (derivchain CMD --help)``), exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            with _status(args):
                code = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError:
            code = 0  # typer has printed the help already
        except BrokenPipeError:
            code = _closed_pipe()
        except SystemExit as exc:
            # rich ends with SystemExit(1) when the help it prints meets a closed pipe.
            code = _closed_pipe() if isinstance(exc.__context__, BrokenPipeError) else exc.code
        except click.exceptions.ClickException as exc:  # usage errors (exit code 2) among them
            ctx = getattr(exc, "ctx", None)
            where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"Error: {' '.join(_message(exc, ctx).split())}{where}", err=True)
            code = exc.exit_code
        except (KeyboardInterrupt, EOFError):
            code = 130
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _status(args):
    """A status line on stderr while a command runs long (stderr a terminal; nothing is imported otherwise)."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from .renderers import status

    named = [a for a in (args if args is not None else sys.argv[1:]) if not a.startswith("-")][:1]
    return status(f"derivchain {named[0]}: working" if named else "derivchain: working")


def _message(exc, ctx) -> str:
    """Click's message; for an option this command lacks, which commands take it (click's guess, --values ->
    --layers, is a near spelling among this command's own options, not the option meant)."""
    if isinstance(exc, click.exceptions.NoSuchOption) and ctx is not None and ctx.parent is not None:
        name = exc.option_name
        group = typer.main.get_command(app)  # every command (main builds only the one named), on this error alone
        takers = [n for n, c in sorted(getattr(group, "commands", {}).items())
                  if not c.hidden and any(name in (*q.opts, *q.secondary_opts) for q in c.params)]
        if takers:
            return f"No such option for {ctx.info_name}: {name} (taken by {', '.join(takers)})"
    return exc.format_message()


app = typer.Typer(
    cls=_OneLineErrors,
    name="derivchain",
    help="Derive neural-network gradients symbolically: direct, sum over paths, backpropagation, verified equal.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Weight = Annotated[str, typer.Argument(help="The weight or bias, e.g. W1 or B3.")]
Weights = Annotated[list[str], typer.Argument(help="The weight or bias, e.g. W1 or B3 (several: W1 W2, in text, json or jsonl).")]
Expand = Annotated[bool, typer.Option("--expand", help="Write each gradient out in neuron symbols (no delta equations; JSON: an array of grad objects).")]
Fmt = Annotated[Format, typer.Option("--format", "-f", case_sensitive=False, metavar="<format>", help=format_help())]
MaxPaths = Annotated[int, typer.Option("--max-paths", help="Most paths to list per weight (listing only: the count and the sum always cover all).")]
Values = Annotated[Optional[str], typer.Option("--values", help="Numbers (.json/.toml) for every input, target, weight and bias.")]
Assign = Annotated[Optional[list[str]], typer.Option("--set", help="NAME=NUMBER, repeatable; overrides --values.")]
Force = Annotated[bool, typer.Option("--force", help="Replace existing files.")]
Reduction = Annotated[str, typer.Option("--reduction", help="With a batch (samples in --values): the gradient is the mean (default, as PyTorch's MSELoss/BCELoss) or sum over samples.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Mini-batches of K samples in file order (--steps then counts epochs) [default: the whole batch].")]

# The options that choose the network, shared by every command (added to each signature by @network_options).
_NETWORK_OPTIONS = [
    ("network", Optional[str], typer.Option("--network", "-n", help="A network file (.toml or .json) for any graph (with a shapes table: a matrix graph), or rnn:steps=T,hidden=H, conv1d:length=N,kernel=K, attention:tokens=T,dim=D, layernorm:n=N or batchnorm:batch=B.")),
    ("layers", Optional[str], typer.Option("--layers", "-l", help="Dense layer sizes, input first, e.g. 2,3,2,1 (the default).")),
    ("activation", Optional[str], typer.Option("--activation", "-a", help="Hidden activation: a registry name, leaky_relu:SLOPE or an expression in x [default: identity].")),
    ("output_activation", Optional[str], typer.Option("--output-activation", help="Output activation, as --activation [default: identity].")),
    ("loss", Optional[str], typer.Option("--loss", help="abs, squared, half-squared, cross-entropy, softmax, or an expression in Out and Y [default: abs].")),
    ("bias", bool, typer.Option("--bias/--no-bias", help="Give every neuron a bias.")),
    ("l2", Optional[str], typer.Option("--l2", help="Add LAMBDA/2 * (sum of squared weights: neurons' biases excluded, a graph file's expression-node parameters included) to the loss; LAMBDA read exactly (0.01 is 1/100).")),
    ("notation", Optional[str], typer.Option("--notation", help="flat (W1, H1, Out) or layered (w2_1_2, O2_1) [default: flat].")),
    ("torch", Optional[str], typer.Option("--torch", help="FILE.py:NAME: the PyTorch model NAME() returns as (model, inputs, loss, target), traced; this runs your own Python file. Its values are the defaults (--values, --set override).")),
    ("limit", Optional[list[str]], typer.Option("--limit", help="Raise a size limit, NAME=N (repeatable; see the README's Limits and errors).")),
    ("debug", bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")),
]


def network_options(command):
    """Add the network options to ``command``'s signature; the command receives the built network as ``net``,
    and any library error becomes one line on stderr and its exit code."""
    signature = inspect.signature(command)
    raw = "options" in signature.parameters  # a command that draws what the options leave open (exercise) gets them as given
    kept = [p for p in signature.parameters.values() if p.name not in ("net", "options")]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[kind, option],
                               default=False if kind is bool else None) for name, kind, option in _NETWORK_OPTIONS]

    @functools.wraps(command)
    def wrapper(**kwargs):
        spec = {name: kwargs.pop(name) for name, _, _ in _NETWORK_OPTIONS}
        debug, changes = spec.pop("debug"), spec.pop("limit")

        def body():
            from . import api
            from . import limits

            with limits.raised(**limits.parse_limits(changes or [])):
                if raw:
                    return command(options=spec, **kwargs)
                return command(net=api.network(spec.pop("network"), **spec), **kwargs)

        return _run(body, debug)

    wrapper.__signature__ = signature.replace(parameters=kept + extra)
    return wrapper


def _run(body, debug: bool = False):
    """Run a command body: library errors -> one line and their exit code; a closed pipe ends quietly;
    anything unexpected -> one line and exit code 3 (the traceback with --debug)."""
    from .errors import DerivchainError
    from .user_text import clean
    try:
        return body()
    except DerivchainError as exc:
        typer.echo(f"Error: {clean(str(exc))}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        raise typer.Exit(_closed_pipe()) from None
    except (typer.Exit, KeyboardInterrupt):
        raise
    except (RecursionError, MemoryError) as exc:
        what = "the expressions are nested too deeply" if isinstance(exc, RecursionError) else "out of memory"
        typer.echo(f"Error: {what}; use a smaller or shallower network", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        if debug or exc.errno not in _FULL:
            _internal(exc, debug)
        # The output could not be written (a full disk, a quota): the machine's state, not derivchain's bug.
        typer.echo(f"Error: the output could not be written ({exc.strerror}); free some space or write elsewhere", err=True)
        raise typer.Exit(3) from None
    except ValueError as exc:
        if debug or "integer string conversion" not in str(exc):
            _internal(exc, debug)
        # A tower of powers of constants ((2*x)**64 through five layers) makes numbers Python will not print.
        typer.echo("Error: a number in the result has more than 4300 digits; use smaller constants, smaller powers "
                   "or a shallower network", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        _internal(exc, debug)


#: Write errors that are the machine's state (no space, a quota, a file too large, the device failing), not a bug.
_FULL = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO") if hasattr(errno, name))


def _internal(exc: Exception, debug: bool):
    """An unexpected error (called while it is handled): re-raised with --debug, else one line and exit code 3."""
    from .user_text import clean

    if debug:
        raise exc
    typer.echo(f"Error: internal error ({type(exc).__name__}: {clean(str(exc))[:200]}); please report it; "
               "--debug shows the traceback", err=True)
    raise typer.Exit(3) from None


def _closed_pipe() -> int:
    """The reader went away (``| head``): end quietly with 0; nothing more can be written to stdout."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass
    return 0


def _emit(result, fmt: Format, on_row=None):
    from .renderers import emit
    emit(result, fmt, on_row=on_row)
    return result


def _emit_many(results, fmt: Format):
    from .renderers import emit_all
    emit_all(results, fmt)


def _written(paths) -> None:
    from .renderers import written
    written(paths)


def _verdict_exit(ok: bool) -> None:
    if not ok:
        raise typer.Exit(1)


@app.command()
@network_options
def grad(weight: Weights, net=None, fmt: Fmt = Format.text, max_paths: MaxPaths = 1000,
         values: Values = None, assign: Assign = None, reduction: Reduction = "mean") -> None:
    """Derive dLoss/dWEIGHT three ways (paths, backprop, direct) and verify they agree."""
    from . import api

    if len(weight) > 1:
        api.check_many(weight, fmt.value)
    result = api.grad(net, weight[0] if len(weight) == 1 else weight, max_paths, api.given_values(values, assign), reduction)
    _emit(result, fmt) if len(weight) == 1 else _emit_many(result, fmt)
    _verdict_exit(api.verified(result))


@app.command()
@network_options
def paths(weight: Weight, net=None, fmt: Fmt = Format.text, max_paths: MaxPaths = 1000) -> None:
    """List the paths from WEIGHT to the loss with the chain of partials along each."""
    from . import api

    _emit(api.paths(net, weight, max_paths), fmt)


@app.command()
@network_options
def show(net=None, fmt: Fmt = Format.text) -> None:
    """Print the network's equations, its outputs nested and expanded, and the loss."""
    from . import api

    _emit(api.show(net), fmt)


@app.command()
@network_options
def table(net=None, fmt: Fmt = Format.text, max_paths: MaxPaths = 0, expand: Expand = False) -> None:
    """Every weight and bias: its number of paths, its gradient as source times delta (each delta defined once, first), and the verdict."""
    from . import api
    from .renderers import progress

    rows = api.table(net, max_paths, expand=expand)
    failed = []

    with progress(len(rows), streaming=True) as advance:
        def on_row(d):
            if not rows.row_equal(d, expand):
                failed.append(d.parameter)
            advance()

        _emit(rows, fmt, on_row)
    _verdict_exit(not failed and (expand or all(c.verified for c in rows.deltas)))


@app.command()
@network_options
def formula(weight: Annotated[Optional[str], typer.Argument(help="Instantiate the equations for this weight or bias.")] = None,
            net=None, fmt: Fmt = Format.text) -> None:
    """The backpropagation equations at an arbitrary layer, then instantiated for WEIGHT."""
    from . import api

    _emit(api.formula(net, weight), fmt)


@app.command()
@network_options
def step(values: Values = None, assign: Assign = None,
         lr: Annotated[str, typer.Option("--lr", help="Learning rate (exact: 0.5 is 1/2).")] = "0.1",
         steps: Annotated[int, typer.Option("--steps", help="How many steps to take.")] = 1,
         freeze: Annotated[Optional[list[str]], typer.Option("--freeze", help="Keep parameters matching this glob fixed, e.g. 'B*'; repeatable.")] = None,
         reduction: Reduction = "mean", batch_size: BatchSize = None, net=None, fmt: Fmt = Format.text) -> None:
    """One (or --steps) gradient-descent step: w_new = w_old - lr * dLoss/dw, for every parameter."""
    from . import api
    from .renderers import progress

    with progress(steps) as advance:
        result = api.step(net, api.given_values(values, assign), lr, steps, tuple(freeze or ()), advance, reduction, batch_size)
    _emit(result, fmt)


@app.command("steps")
@network_options
def steps_(weight: Weight, net=None, fmt: Fmt = Format.text) -> None:
    """The step-by-step derivation of dLoss/dWEIGHT: one rewriting per line, each with its reason."""
    from . import api

    result = api.steps(net, weight)
    _emit(result, fmt)
    _verdict_exit(result.verified)


@app.command()
@network_options
def draw(weight: Annotated[Optional[str], typer.Argument(help="Highlight the paths of this weight or bias.")] = None,
         out: Annotated[str, typer.Option("--out", "-o", help="The file to write: .tex (TikZ) or .svg.")] = "",
         force: Force = False, net=None) -> None:
    """Draw the network (TikZ or SVG), with the paths of WEIGHT highlighted."""
    from . import api

    _written(api.draw(net, weight, out, force))


@app.command()
@network_options
def export(weights: Annotated[Optional[list[str]], typer.Argument(help="Weights and biases to include, or all (default).")] = None,
           out: Annotated[str, typer.Option("--out", "-o", help="The file to write: .tex (LaTeX), .md (Markdown) or .html (one self-contained page).")] = "",
           snippet: Annotated[bool, typer.Option("--snippet", help="Only the body, to paste into an existing document.")] = False,
           force: Force = False,
           pdf: Annotated[bool, typer.Option("--pdf", help="Also compile the .tex with a LaTeX engine.")] = False,
           title: Annotated[str, typer.Option("--title", help="The document's title.")] = "Gradients by the chain rule",
           brief: Annotated[bool, typer.Option("--brief", help="Only the table of every derivative and backpropagation.")] = False,
           max_paths: MaxPaths = 1000,
           hessian: Annotated[Optional[list[str]], typer.Option("--hessian", help="P,Q: also d2Loss/(dP dQ), its pairs of paths in two colours, three ways and verified (with --values: its numbers); repeatable.")] = None,
           values: Values = None, assign: Assign = None, reduction: Reduction = "mean", net=None) -> None:
    """Write the derivations as a LaTeX, Markdown or HTML document (or snippet); --pdf compiles it. Lists every file written."""
    from . import api

    _written(api.export(net, weights, out, snippet, force, pdf, title, max_paths, brief, hessian,
                        api.given_values(values, assign), reduction))


@app.command()
@network_options
def matrix(net=None, fmt: Fmt = Format.text, values: Values = None, assign: Assign = None, reduction: Reduction = "mean") -> None:
    """Backpropagation in matrices per layer (W, z, a, delta, dL/dW = delta a^T; a batch: a column per sample), shapes checked, each entry verified."""
    from . import api
    _verdict_exit(_emit(api.matrix(net, api.given_values(values, assign), reduction), fmt).check.equal)


@app.command()
@network_options
def check(weight: Weight,
          answer: Annotated[Optional[str], typer.Argument(help="Your answer for dLoss/dWEIGHT in the network's names, e.g. \"W13*H1\" "
                                                               "(quote it; one starting with - after --).")] = None,
          steps: Annotated[Optional[str], typer.Option("--steps", help="A file of steps, one per line (- reads standard input): "
                                                       "dLoss/dW1 = ..., then = ...; each is checked.")] = None,
          net=None, fmt: Fmt = Format.text) -> None:
    """Check your answer (or chain of steps) for dLoss/dWEIGHT: correct or not, where it holds, the mistake, a counterexample."""
    from . import api

    result = api.check(net, weight, answer, api.steps_text(steps))
    _emit(result, fmt)
    _verdict_exit(result.correct)


@app.command()
@network_options
def exercise(seed: Annotated[int, typer.Option("--seed", help="Draws the network (what the options leave open), the questions and the numbers.")] = 1,
             out: Annotated[str, typer.Option("--out", "-o", help="The sheet to write: .tex, .pdf, .md or .html.")] = "",
             solutions: Annotated[bool, typer.Option("--solutions", help="With the verified derivations, paths and numbers.")] = False,
             force: Force = False, options=None) -> None:
    """Write an exercise sheet: a small random network, three derivatives and one gradient step (--solutions: answered)."""
    from . import api

    _written(api.exercise(seed, out, solutions, force, **options))


@app.command()
@network_options
def hessian(first: Annotated[Optional[str], typer.Argument(help="P: the first parameter, e.g. W1 (a matrix graph's entry: WQ[0,0]).")] = None,
            second: Annotated[Optional[str], typer.Argument(help="Q: the second parameter (P again for a diagonal entry).")] = None,
            net=None, fmt: Fmt = Format.text, max_paths: MaxPaths = 1000, values: Values = None, assign: Assign = None,
            reduction: Reduction = "mean",
            params: Annotated[Optional[str], typer.Option("--params", help="Without P Q: the parameters of the full matrix, NAME,NAME,... (a matrix's name: its entries) [default: all].")] = None,
            newton: Annotated[bool, typer.Option("--newton", help="Without P Q: also the Newton step -H^-1 g beside the gradient.")] = False,
            direction: Annotated[Optional[str], typer.Option("--direction", help="Without P Q: H v for v given as NAME=NUMBER,... (others 0), by the R-operator.")] = None) -> None:
    """d2Loss/(dP dQ) three ways (direct, pairs of paths, second-order backprop), verified; without P Q, at --values: the full Hessian."""
    from . import api

    result = api.hessian(net, first, second, max_paths, api.given_values(values, assign), reduction, params, newton, direction)
    _emit(result, fmt)
    entry = getattr(result, "entry", result)
    _verdict_exit(entry.verified if entry.kind == "hessian_matrix" else entry.verdict.equal and getattr(result, "agree", True))


@app.command()
def autograd(torch_file: Annotated[Optional[str], typer.Option("--torch", help="FILE.py:NAME: NAME() returns (model, inputs, loss, target); this runs your own Python file.")] = None,
             tolerance: Annotated[float, typer.Option("--tolerance", help="Agreement: the relative difference at most this (or this times the largest entry).")] = 1e-12,
             fast: Annotated[bool, typer.Option("--fast", help="Each entry by backpropagation alone (autograd its check); three ways and verified only where they differ.")] = False,
             fmt: Fmt = Format.text,
             debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")] = False) -> None:
    """Every parameter entry's verified gradient beside the model's own autograd backward(); exit 1 where one differs."""
    from . import api

    result = _run(lambda: _emit(api.autograd(torch_file, tolerance, fast), fmt), debug)
    _verdict_exit(result.all_agree)


def _version(value: bool) -> None:
    if value:
        from . import __version__
        typer.echo(f"derivchain {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    """Derive neural-network gradients symbolically: direct, sum over paths, backpropagation, verified equal."""


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point. Typer builds every command's options before parsing (a cold start paid
    for ten): only the command named first is built, else (--help, a misspelt command) all of them."""
    args = argv if argv is not None else sys.argv[1:]
    one = copy.copy(app)
    one.registered_commands = [c for c in app.registered_commands if args and args[0] == (
        c.name or typer.main.get_command_name(c.callback.__name__))] or app.registered_commands
    try:
        one(args=args, prog_name="derivchain")
    except SystemExit as exc:
        if argv is None:  # the process itself (console script, python -m): nothing runs after this
            _exit_now(exc.code)
        raise


def _exit_now(code) -> None:
    """End the process with ``code`` once stdout and stderr are flushed, skipping the interpreter's teardown:
    freeing every SymPy object and module one by one took longer than the work of a small ``grad`` (about
    0.08 s of a 0.55 s cold start). Every file derivchain writes is closed before this (with-blocks)."""
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = code or _closed_pipe()
        except ValueError:  # closed by the caller
            pass
        except OSError as exc:  # the output is lost (a full disk): said, as when a write fails during the command
            if stream is sys.stdout:
                with contextlib.suppress(OSError, ValueError):
                    print(f"Error: the output could not be written ({exc.strerror or exc}); free some space or write elsewhere",
                          file=sys.stderr, flush=True)
                code = code or 3
    os._exit(code)
