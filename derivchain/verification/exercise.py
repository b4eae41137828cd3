"""Exercise sheets: a small random network from a seed, three derivatives to find and one gradient step at
given numbers; with solutions, each derivation verified, its paths, and the numbers.

What is not fixed by the caller is drawn from the seed (:func:`draw`): the layer sizes, the hidden
activation and the loss (the output activation follows the loss). The same seed and options always give
the same sheet. The parameters asked about, the numbers and the learning rate are drawn from the seed too.
"""

from __future__ import annotations

import random
import shlex
from fractions import Fraction

import sympy as sp

from .. import memo
from ..errors import DerivchainError, EvaluationError
from ..record import record
from ..result import Result
from ..engines.paths import count_paths
from ..model.network import Network
from ..model.values import Number, environment, value_of
from ..symbolic.rules import rule_for
from .at_values import DerivationAtValues, at_values
from .derivation import Derivation, derive

#: The layer sizes drawn from (inputs first): small enough to derive by hand, with a weight on two paths.
SHAPES = ("2,2,1", "2,3,1", "3,2,1", "1,2,2,1", "2,2,2,1", "2,2,2")
#: The hidden activations drawn from.
HIDDEN = ("identity", "sigmoid", "tanh", "relu")
#: The losses drawn from (each needs its output activation; softmax needs two outputs or more).
LOSSES = ("squared", "half-squared", "abs", "cross-entropy", "softmax")
#: The numbers a value is drawn from, and the learning rates.
NUMBERS = tuple(Fraction(k, 2) for k in (-4, -3, -2, -1, 1, 2, 3, 4))
RATES = (Fraction(1, 10), Fraction(1, 4), Fraction(1, 2))
#: Draws of numbers tried before one away from every kink is found.
TRIES = 50


class ExerciseError(DerivchainError):
    """Options an exercise sheet cannot be made from."""


def _output_activation(loss: str) -> str:
    return "sigmoid" if loss == "cross-entropy" else "identity"


def _fits(loss: str, outputs: int, output_activation: str | None) -> bool:
    """Whether ``loss`` suits a network with ``outputs`` outputs and that output activation (None: any)."""
    if loss == "softmax":
        return outputs >= 2 and output_activation in (None, "identity")
    if loss == "cross-entropy":
        return output_activation in (None, "sigmoid")
    return True


def draw(seed: int, layers: str | None = None, activation: str | None = None, output_activation: str | None = None,
         loss: str | None = None) -> dict[str, str]:
    """The dense network's options, each given one kept and the rest drawn from ``seed`` to fit them."""
    rng = random.Random(seed)
    shape = layers if layers is not None else rng.choice(SHAPES)
    drawn_hidden, drawn_loss = rng.choice(HIDDEN), rng.choice(LOSSES)
    sizes = [s.strip() for s in shape.split(",")]
    outputs = int(sizes[-1]) if sizes[-1].isdigit() else 1
    if loss is None:
        fits = [name for name in LOSSES if _fits(name, outputs, output_activation)] or ["squared"]
        loss = drawn_loss if drawn_loss in fits else fits[rng.randrange(len(fits))]
    if activation is None:
        activation = drawn_hidden if len(sizes) > 2 else "identity"
    if output_activation is None:
        output_activation = _output_activation(loss)
    return {"layers": shape, "activation": activation, "output_activation": output_activation, "loss": loss}


def options_text(options: dict) -> str:
    """The command-line options that build the network again (for ``derivchain check ... OPTIONS``)."""
    parts = []
    if options.get("path"):
        parts += ["--network", options["path"]]
    for key, flag in (("layers", "--layers"), ("activation", "--activation"), ("output_activation", "--output-activation"),
                      ("loss", "--loss"), ("notation", "--notation"), ("l2", "--l2")):
        value = options.get(key)
        if value is not None and not (key == "notation" and value == "flat"):
            parts += [flag, str(value)]
    if options.get("bias"):
        parts.append("--bias")
    return " ".join(shlex.quote(p) for p in parts)


@record(repr=False)
class Exercise(Result):
    """An exercise sheet: the network, three derivatives to find, one gradient step at ``values`` with
    learning rate ``lr`` on the second question's parameter; ``solutions``: the sheet shows the answers."""

    kind = "exercise"  # the renderers' method for it (see derivchain.result)

    seed: int
    network: Network
    options: str  # the command-line options that build the network again
    derivations: tuple[Derivation, ...]
    values: dict  # every leaf (symbol) -> its number, for the step
    lr: Fraction
    at: DerivationAtValues  # the stepped parameter's derivative at the values
    updated: Number  # the stepped parameter after one step
    solutions: bool = False

    @property
    def stepped(self) -> sp.Symbol:
        """The parameter the gradient step updates."""
        return self.at.derivation.parameter

    @property
    def title(self) -> str:
        """``Exercise sheet 7`` (``, with solutions``)."""
        return f"Exercise sheet {self.seed}" + (", with solutions" if self.solutions else "")

    def __repr__(self) -> str:
        asked = ", ".join(d.parameter.name for d in self.derivations)
        return f"Exercise(seed {self.seed}: {asked}; a step on {self.stepped}{', with solutions' if self.solutions else ''})"


def _questions(network: Network, rng: random.Random) -> list[sp.Symbol]:
    """Three parameters: one on a single path (or the fewest), one on the most paths, and a bias or another."""
    params = list(network.parameters)
    if len(params) < 3:
        raise ExerciseError(f"exercise: this network has {len(params)} parameter{'s' if len(params) != 1 else ''}; "
                            "a sheet asks about three (give a larger network)")
    counts = {p: count_paths(network, p) for p in params}
    fewest, most = min(counts.values()), max(counts.values())
    first = rng.choice([p for p in params if counts[p] == fewest and p not in network.biases] or [p for p in params if counts[p] == fewest])
    second = rng.choice([p for p in params if counts[p] == most and p != first] or [p for p in params if p != first])
    rest = [p for p in network.biases if p not in (first, second)] or [p for p in params if p not in (first, second)]
    return [first, second, rng.choice(rest)]


def _numbers(network: Network, rng: random.Random) -> dict[sp.Symbol, Fraction]:
    """A number for every leaf, away from every kink (a ReLU at 0, |u| at 0), at which the network is defined."""
    one_hot = network.loss.conditional is not None
    binary = network.loss.name.startswith("cross-entropy")
    kinks = [k for n in network.neurons for e in sp.preorder_traversal(n.equation) if e.args and (r := rule_for(e)) and r.kinks
             for k in r.kinks(e.args)]
    kinks += [k for e in sp.preorder_traversal(network.loss_local) if e.args and (r := rule_for(e)) and r.kinks for k in r.kinks(e.args)]
    for _ in range(TRIES):
        values = {s: rng.choice(NUMBERS) for s in (*network.inputs, *network.parameters)}
        if one_hot:
            hot = rng.randrange(len(network.targets))
            values.update({y: Fraction(int(k == hot)) for k, y in enumerate(network.targets)})
        else:
            values.update({y: Fraction(rng.randint(0, 1)) if binary else rng.choice(NUMBERS) for y in network.targets})
        try:
            env, exact = environment(network, values)
            if all(value_of(k, env, exact).value != 0 for k in kinks):
                return values
        except (EvaluationError, ArithmeticError):
            continue
    raise ExerciseError("exercise: no numbers away from the network's kinks were found; try another --seed")


def make(network: Network, seed: int, options: str, solutions: bool = False) -> Exercise:
    """The sheet for ``network`` and ``seed``: the questions, numbers and learning rate drawn from the seed,
    every answer derived and verified."""
    rng = random.Random(f"derivchain exercise {seed}")
    with memo.working_for(network):
        asked = _questions(network, rng)
        derivations = tuple(derive(network, p) for p in asked)
        values = _numbers(network, rng)
        lr = rng.choice(RATES)
        at = at_values(derivations[1], values)
    old = values[asked[1]]
    if at.backprop.exact:
        updated = Number(old - lr * at.backprop.value, True)
    else:
        import mpmath

        with mpmath.workdps(60):
            updated = Number(mpmath.mpf(old.numerator) / old.denominator - mpmath.mpf(lr.numerator) / lr.denominator * at.backprop.value, False)
    return Exercise(seed, network, options, derivations, values, lr, at, updated, solutions)
