"""A learner's answer checked: correct or not (the verifier decides), where it holds, what mistake explains
it, and a point where it is wrong.

The answer (read by :mod:`.answer`) is compared with the verified derivative (:func:`.derivation.derive`)
by :func:`.compare.verify`. When they differ, the diagnosis changes the true derivation, written path by
path, by each mistake of :data:`derivchain.engines.mistakes.MISTAKES` in turn, simplest first, then by
every combination of two: a change is a candidate when it agrees with the answer at a few fixed points,
and an explanation only when the verifier shows it equal to the answer. A ``case`` explanation (the kink's
sign left out) says where the answer holds. A wrong answer always comes with a counterexample: a value
for every leaf, exact where the network allows, at which the answer and the derivative differ.
"""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

import mpmath
import sympy as sp

from .. import memo
from ..errors import DerivchainError, EvaluationError
from ..record import record
from ..result import Result
from ..engines.mistakes import KINDS, Finding, Setting, Sketch, changes, neighbours, rank, sketch
from ..model.network import Network
from ..model.values import Number, environment, value_of
from ..symbolic.rules import rule_for
from .answer import Read, Reading, read_both, read_steps
from .compare import Verdict, verify
from .derivation import Derivation, derive

__all__ = ["Check", "Counterexample", "StepCheck", "check", "KINDS"]

#: Points at which every candidate is compared with the answer before the verifier is asked.
POINTS = 3
#: Most changed derivations compared with an answer (single changes and combinations of two).
MAX_CANDIDATES = 3_000
#: Points tried for a counterexample with small exact values before the verifier's own point is used.
COUNTER_TRIES = 200
#: The values a counterexample draws from: halves from -3 to 3, never 0 (a learner can check them by hand).
NICE = tuple(Fraction(k, 2) for k in range(-6, 7) if k)


@record(repr=False)
class Counterexample:
    """A point where the answer and the derivative differ: every leaf's value, both values there, and
    the nodes' values (what a learner checking by hand computes on the way)."""

    values: dict  # name -> Number
    answer: Number
    expected: Number
    nodes: dict  # name -> Number

    def __repr__(self) -> str:
        return f"Counterexample(answer {self.answer}, derivative {self.expected})"


@record(repr=False)
class StepCheck:
    """One line of a chain of steps: its number in the file, the text, the expression read, and whether
    it equals the line before (None for the first) and the derivative."""

    line: int
    text: str
    expr: sp.Expr
    to_previous: Verdict | None
    to_derivative: Verdict

    @property
    def equal_to_previous(self) -> bool | None:
        """True when the line equals the one before it (None for the first line)."""
        return None if self.to_previous is None else self.to_previous.equal

    @property
    def equal_to_derivative(self) -> bool:
        """True when the line equals the derivative."""
        return self.to_derivative.equal

    def __repr__(self) -> str:
        return f"StepCheck(line {self.line}: {self.text})"


@record(repr=False)
class Check(Result):
    """An answer (or a chain of steps) checked against dLoss/dparameter: the verdict, where it holds, the
    diagnosis, a counterexample; with steps, each line's checks and the first wrong line."""

    kind = "check"  # the renderers' method for it (see derivchain.result)

    network: Network
    parameter: sp.Symbol
    derivation: Derivation
    answer: sp.Expr  # as read, in the network's names (with steps: the last line)
    text: str  # the answer as written (with steps: the last line)
    verdict: Verdict  # the answer (or the first wrong line) against the derivative
    correct: bool
    correct_where: str | None
    diagnosis: tuple[Finding, ...]
    counterexample: Counterexample | None
    steps: tuple[StepCheck, ...] | None = None
    first_wrong_line: int | None = None
    readings: tuple[Reading, ...] = ()  # partials read as local where the total derivative differs

    @property
    def expected(self) -> sp.Expr:
        """The verified derivative, as backpropagation writes it (neuron symbols)."""
        return self.derivation.backprop.local

    @property
    def lhs(self) -> str:
        """``dLoss/dW1``."""
        return f"d{self.network.loss_symbol}/d{self.parameter}"

    @property
    def sentence(self) -> str:
        """The verdict in one line."""
        lhs = self.lhs
        if self.steps is not None:
            if self.correct:
                return f"correct: every step holds and the last equals {lhs} ({self.verdict.method})"
            line = self.first_wrong_line
            wrong = [s.line for s in self.steps if not s.equal_to_derivative or s.equal_to_previous is False]
            head = f"not correct: line {line} is the first wrong line" if line is not None else \
                f"not correct: the step to line {wrong[0]} does not hold"
            return head + (f" ({self._why()})" if line is not None else "")
        if self.correct:
            # numeric agreement is evidence, and the words say so (issue 21)
            how = ", a proof" if self.verdict.proof else ("" if self.verdict.method != "numeric" else ": agree at every point tried, not proved")
            return f"correct: your answer equals {lhs} ({self.verdict.method}{how})"
        if not self.verdict.decided:
            return f"undecided: the verifier could not decide whether your answer equals {lhs} ({self.verdict.detail})"
        return f"not correct: {self._why()}"

    def _why(self) -> str:
        if not self.verdict.decided:
            return "undecided"
        if self.correct_where is not None:
            return f"it equals {self.lhs} only where {self.correct_where}"
        kinds = [f.kind for f in self.diagnosis]
        if kinds == ["unknown"]:
            return "no single mistake of the known kinds, nor two together, explains it"
        # two mistakes of one kind are said once, counted: "activation_derivative (twice)"
        said = list(dict.fromkeys(kinds))
        return " and ".join(k + (" (twice)" if kinds.count(k) == 2 else f" ({kinds.count(k)} times)" if kinds.count(k) > 2 else "")
                            for k in said)

    def __repr__(self) -> str:
        word = "correct" if self.correct else (f"correct where {self.correct_where}" if self.correct_where else "not correct")
        kinds = "" if not self.diagnosis else f": {', '.join(f.kind for f in self.diagnosis)}"
        return f"Check({self.lhs}, {word}{kinds})"


class CheckError(DerivchainError):
    """A check asked without an answer or steps, or with both."""


def check(network: Network, parameter: str | sp.Symbol, answer: str | None = None, steps: str | None = None) -> Check:
    """Check ``answer`` (text) or a chain of ``steps`` (text, one step a line) against dLoss/dparameter."""
    if answer is not None and steps is not None:
        raise CheckError("check takes an answer or --steps FILE, not both: drop the answer to check the steps, or --steps")
    if answer is None and steps is None:
        raise CheckError("check needs an answer or --steps FILE (one of them): e.g. derivchain check W7 \"W13*H1\"")
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    with memo.working_for(network):
        d = derive(network, symbol)
        if steps is None:
            expr, verdict, readings = _reading(network, d, read_both(network, symbol, answer))
            verdict, where, diagnosis, counter = judge(network, d, expr, verdict)
            return Check(network, symbol, d, expr, answer.strip(), verdict, verdict.equal, where, diagnosis, counter,
                         readings=readings)
        checked, previous, readings = [], None, []
        for number, text, read in read_steps(network, symbol, steps):
            expr, to_derivative, used = _reading(network, d, read)
            readings += [r for r in used if all((x.of, x.by, x.read_as) != (r.of, r.by, r.read_as) for x in readings)]
            substituted = network.substitute(expr)
            to_previous = None if previous is None else verify({"previous line": previous, "line": substituted})
            checked.append(StepCheck(number, text, expr, to_previous, to_derivative))
            previous = substituted
        first = next((s for s in checked if not s.equal_to_derivative), None)
        last = checked[-1]
        correct = first is None and all(s.equal_to_previous is not False for s in checked)
        if first is None:
            verdict, where, diagnosis, counter = last.to_derivative, None, (), None
        else:
            verdict, where, diagnosis, counter = judge(network, d, first.expr, first.to_derivative)
        return Check(network, symbol, d, last.expr, last.text, verdict, correct, where, diagnosis, counter, tuple(checked),
                     None if first is None else first.line, tuple(readings))


def _reading(network: Network, d: Derivation, read: Read) -> tuple[sp.Expr, Verdict, tuple[Reading, ...]]:
    """(expression, its verdict against the derivative, the readings used) of an answer read both ways: the local
    reading of its ambiguous partials, unless only the total one makes it equal the derivative."""
    verdict = verify({"derivative": d.backprop.substituted, "answer": network.substitute(read.local)})
    if read.total is not None and not verdict.equal:
        other = verify({"derivative": d.backprop.substituted, "answer": network.substitute(read.total)})
        if other.equal:
            return read.total, other, read.total_readings
    return read.local, verdict, read.local_readings


def judge(network: Network, d: Derivation, answer: sp.Expr, verdict: Verdict | None = None):
    """(verdict, where it holds, diagnosis, counterexample) of ``answer`` against the derivation ``d``."""
    if verdict is None:
        verdict = verify({"derivative": d.backprop.substituted, "answer": network.substitute(answer)})
    if verdict.equal or not verdict.decided:
        return verdict, None, (), None
    diagnosis = diagnose(network, d, answer)
    where = diagnosis[0].where if len(diagnosis) == 1 and diagnosis[0].kind == "case" else None
    return verdict, where, diagnosis, counterexample(network, d, answer, verdict)


# --- the diagnosis ------------------------------------------------------------------------------------------


def _points(network: Network) -> list[dict]:
    """:data:`POINTS` environments (every leaf and node's value) at fixed generic rational points."""
    out = []
    rng = random.Random(20240607)
    for _ in range(POINTS * 10):
        values = {s: Fraction(rng.randint(-97, 97) or 1, rng.choice((7, 11, 13, 17, 19))) for s in network.leaves}
        try:
            env, exact = environment(network, values)
        except (EvaluationError, ZeroDivisionError, ArithmeticError):
            continue
        out.append((env, exact))
        if len(out) == POINTS:
            break
    return out


class _Values:
    """Expressions' values at the diagnosis points, as floats (None where undefined), each computed once."""

    def __init__(self, network: Network):
        self.points = _points(network)
        self.kept: dict = {}
        self.terms: dict = {}

    def of(self, expr: sp.Expr) -> tuple:
        hit = self.kept.get(expr)
        if hit is None:
            out = []
            for env, exact in self.points:
                try:
                    out.append(float(value_of(expr, env, exact)))
                except (EvaluationError, ZeroDivisionError, ArithmeticError, OverflowError, TypeError, ValueError):
                    out.append(None)
            hit = self.kept[expr] = tuple(out)
        return hit

    def term(self, t) -> list:
        """A term's value at each point (None where undefined), computed once per term object (a changed
        sketch shares its unchanged terms with the sketch it came from)."""
        hit = self.terms.get(id(t))
        if hit is None:
            values = [float(t.count)] * len(self.points)
            for p in t.parts:
                for k, v in enumerate(self.of(p.value)):
                    values[k] = None if v is None or values[k] is None else values[k] * v
            hit = self.terms[id(t)] = (t, values)  # the term kept alive, so its id is not reused
        return hit[1]

    def sketch(self, s: Sketch) -> tuple:
        """Each point's (value, size): the sum of the terms and the sum of their sizes (for tolerances)."""
        totals, sizes = [0.0] * len(self.points), [0.0] * len(self.points)
        for t in s.terms:
            values = self.term(t)
            for k, v in enumerate(values):
                if v is None or totals[k] is None:
                    totals[k] = None
                else:
                    totals[k] += v
                    sizes[k] += abs(v)
        scale = float(s.scale)
        return tuple(None if v is None else (v * scale, size * abs(scale)) for v, size in zip(totals, sizes))


_TOLERANCE = 1e-9


def _agrees(candidate: tuple, answer: tuple) -> bool:
    used = 0
    for c, a in zip(candidate, answer):
        if c is None or a is None:
            continue
        value, size = c
        if abs(value - a) > _TOLERANCE * (size + abs(a) + 1e-300):
            return False
        used += 1
    return used > 0


def _ratio(candidate: tuple, answer: tuple) -> Fraction | None:
    """The constant ``answer / candidate``, when it is one at every point and a simple fraction; else None."""
    found = None
    for c, a in zip(candidate, answer):
        if c is None or a is None:
            continue
        value, size = c
        if abs(value) <= 1e-9 * (size + 1e-300):
            if abs(a) > 1e-9 * (abs(a) + size + 1e-300):
                return None
            continue
        r = a / value
        if found is None:
            found = r
        elif abs(r - found) > 1e-9 * abs(found):
            return None
    if found is None or found == 0:
        return None
    simple = Fraction(found).limit_denominator(64)
    if abs(float(simple) - found) > 1e-9 * abs(found) or abs(simple.numerator) > 64:
        return None
    return simple


def diagnose(network: Network, d: Derivation, answer: sp.Expr) -> tuple[Finding, ...]:
    """The simplest explanation of a wrong ``answer``: one mistake, else two, else ``unknown``."""
    leaf = d.parameter
    true = sketch(network, leaf)
    if true is None:
        return (Finding("unknown", f"{d.path_count} paths are too many to compare the answer with path by path; "
                        "check a derivative with fewer paths first"),)
    values = _Values(network)
    target = values.of(answer)
    answer_sub = network.substitute(answer)
    setting = Setting(network, leaf, lambda s: _ratio(values.sketch(s), target), neighbours(network, leaf))
    tried: set = set()
    budget = [MAX_CANDIDATES]

    def explains(s: Sketch) -> bool:
        budget[0] -= 1
        fingerprint = values.sketch(s)
        if not _agrees(fingerprint, target):
            return False
        key = tuple(None if c is None else f"{c[0]:.12g}" for c in fingerprint)
        if key in tried:
            return False
        tried.add(key)
        return verify({"answer": answer_sub, "candidate": network.substitute(s.value)}).equal

    singles = list(changes(true, setting))
    for s, f in singles:
        if explains(s):
            return (f,)
    for s1, f1 in singles:
        for s2, f2 in changes(s1, setting, after=f1.kind):
            if budget[0] <= 0:
                return (_unknown(f" (the search stopped after {MAX_CANDIDATES} candidates)"),)
            if explains(s2):
                return tuple(sorted((f1, f2), key=lambda f: rank(f.kind)))
    return (_unknown(""),)


def _unknown(why: str) -> Finding:
    return Finding("unknown", "wrong, but no single mistake of the known kinds (a path, a factor, an activation's derivative, "
                   f"a sign, a constant, a kink's case) nor two of them together explain it{why}; the counterexample shows "
                   "where it differs")


# --- a counterexample ---------------------------------------------------------------------------------------------


def _kinks(expr: sp.Expr) -> list[sp.Expr]:
    """The arguments whose sign changes a piecewise function in ``expr`` (sign, |u|, ReLU, ...)."""
    found = []
    for e in sp.preorder_traversal(expr):
        rule = rule_for(e) if e.args else None
        if rule is not None and rule.kinks is not None:
            found += list(rule.kinks(e.args))
    return found


def apart(a: Number, b: Number) -> tuple[Number, Number]:
    """``a`` and ``b`` printed with enough digits (up to 50) that two different values do not print the same."""
    def decimal(n: Number) -> str:  # an exact fraction's decimal beside it counts: 1/3 (~0.333)
        return str(n).split("(~")[-1].rstrip(")")

    shown = a.shown
    while decimal(a) == decimal(b) and a.value != b.value and shown < 50:
        shown = min(50, shown + 5)
        a, b = dataclasses.replace(a, shown=shown), dataclasses.replace(b, shown=shown)
    return a, b


def _differ(a: Number, b: Number) -> bool:
    if a.exact and b.exact:
        return a.value != b.value
    with mpmath.workdps(60):
        x, y = mpmath.mpf(a.value) if not isinstance(a.value, Fraction) else mpmath.mpf(a.value.numerator) / a.value.denominator, \
            mpmath.mpf(b.value) if not isinstance(b.value, Fraction) else mpmath.mpf(b.value.numerator) / b.value.denominator
        return abs(x - y) > mpmath.mpf(10) ** -30 * max(1, abs(x), abs(y))


def counterexample(network: Network, d: Derivation, answer: sp.Expr, verdict: Verdict) -> Counterexample | None:
    """A point with small exact values where ``answer`` and the derivative differ (away from every kink);
    else the verifier's own point."""
    expected = d.backprop.local
    kinks = _kinks(expected)
    for node in network.neurons:
        if node.preactivation is not None:
            kinks += _kinks(node.equation)
    # Away from the answer's own kinks first; then only away from the derivative's and the network's: an
    # answer may sit on its kink over a whole region (heaviside(H1) where H1 = relu(z) is 0 for every z < 0),
    # and what it says there is what it says.
    for avoid in (kinks + _kinks(answer), kinks):
        for i in range(COUNTER_TRIES):
            rng = random.Random(i)
            values = {s: rng.choice(NICE) for s in network.leaves}
            try:
                env, exact = environment(network, values)
                if any(value_of(k, env, exact).value == 0 for k in avoid):
                    continue
                a, e = value_of(answer, env, exact), value_of(expected, env, exact)
            except (EvaluationError, ZeroDivisionError, ArithmeticError, TypeError):
                continue
            if _differ(a, e):
                leaves = [*network.inputs, *network.parameters, *network.targets]
                a, e = apart(a, e)
                return Counterexample({s.name: Number(values[s], True) for s in leaves}, a, e,
                                      {n.name: value_of(n.symbol, env, exact) for n in network.neurons})
    point = verdict.counterexample.get("point") if verdict.counterexample else None
    if not point:
        return None
    with mpmath.workdps(60):
        expected_value, answer_value = apart(*(Number(mpmath.mpf(v), False) for v in verdict.counterexample["values"]))
        return Counterexample({k: Number(mpmath.mpf(v), False) for k, v in point.items()}, answer_value, expected_value, {})
