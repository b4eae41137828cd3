"""Numbers for a network's names: parsing, validation, and exact or 50-digit evaluation.

Values are read exactly: ``0.15`` in a file or on the command line is the rational 3/20, never a
binary float. A network whose every function is piecewise polynomial (identity, relu, leaky_relu,
square, |.|, sign) is then evaluated exactly; otherwise with 50-digit arithmetic, of which the
printed 15 significant digits are trustworthy.
"""

from __future__ import annotations

from dataclasses import field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import mpmath
import sympy as sp

from .. import limits
from ..record import record
from ..errors import DerivchainError
from ..user_text import parse_number, read_limited
from .network import Network
from ..symbolic.rules import rule_for
from ..errors import EvaluationError
from ..symbolic.evaluate import Undefined
from ..symbolic.evaluate import evaluate as evaluate_numeric

DIGITS = 50
SHOWN = 15
#: Working precisions (digits) for a network's numbers, in turn: where a value is undefined at one (1 - Out of
#: a saturated sigmoid rounds to 0), everything is computed again at the next.
PRECISIONS = (DIGITS, 200, 1000)
#: Digits a faint value (see Number) is computed again with: past its rounding at DIGITS, its own digits show.
RECHECK = 40


class ValuesError(DerivchainError):
    """Values that are missing, unknown, not numbers, NaN or infinite."""


class RoundedAway(EvaluationError):
    """A value undefined at the working precision, perhaps only there: 1 - Out of a saturated sigmoid rounds to 0."""


def _number(raw, name: str, where: str) -> Fraction:
    return parse_number(raw, name, where, ValuesError)


def read_number(text: str, what: str) -> Fraction:
    """One exact number from text (``0.5``, ``1/3``), or a one-line error naming ``what``."""
    return _number(text, what, what)


def read_values(path: str | Path) -> dict[str, Fraction]:
    """Read ``name = number`` pairs from a .json or .toml file, exactly."""
    path = Path(path)
    label = path.name
    if path.suffix not in (".json", ".toml"):
        raise ValuesError(f"{label}: values files end in .json or .toml")
    try:
        text = read_limited(path, label, ValuesError).decode("utf-8")
    except UnicodeDecodeError:
        raise ValuesError(f"{label}: not UTF-8 text") from None
    # Imported here: a command without a values file (the cold start) does not pay for the parsers.
    import json
    import tomllib

    try:
        # Decimal, not float: 0.15 stays 3/20. NaN/Infinity literals are refused below.
        data = (
            json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=lambda c: c)
            if path.suffix == ".json"
            else tomllib.loads(text, parse_float=Decimal)
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValuesError(f"{label}: not valid {path.suffix[1:].upper()}: {exc}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, nesting thousands deep
        raise ValuesError(f"{label}: a value is too large or nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValuesError(f"{label}: expected a table of name = number")
    out = {str(k): _value(v, str(k), label) for k, v in data.items() if k != SAMPLES}
    if SAMPLES in data:
        out[SAMPLES] = _samples(data[SAMPLES], label)
    return out


#: The key of a values file's batch: a list of objects, each giving every input and target.
SAMPLES = "samples"


def _samples(raw, label: str) -> tuple[dict[str, Fraction], ...]:
    if not isinstance(raw, list):
        raise ValuesError(f"{label}: samples must be a list of objects, each giving every input and target")
    if not raw:
        raise ValuesError(f"{label}: samples is empty; give at least one sample (or drop the key for one sample)")
    out = []
    for i, sample in enumerate(raw, start=1):
        if not isinstance(sample, dict):
            raise ValuesError(f"{label}: sample {i} is not an object of name = number")
        out.append({str(k): _value(v, str(k), f"{label} sample {i}") for k, v in sample.items()})
    return tuple(out)


def _value(raw, name: str, where: str):
    """A number, or a matrix given as a list of rows (``[[1, 2], [3, 4]]``), read exactly."""
    if isinstance(raw, list) and raw and all(isinstance(row, list) for row in raw):
        return _matrix(raw, name, where)
    return _number(raw, name, where)


def _matrix(raw, name: str, where: str) -> tuple[tuple[Fraction, ...], ...]:
    """A matrix leaf's values, nested lists row by row (``[[1, 2], [3, 4]]``), read exactly."""
    if not all(raw):
        raise ValuesError(f"{where}: {name} has an empty row; a matrix is a list of rows, e.g. [[1, 2], [3, 4]]")
    if len({len(row) for row in raw}) > 1:
        raise ValuesError(f"{where}: {name}'s rows have {', '.join(str(len(r)) for r in raw)} entries; "
                          "every row of a matrix has as many")
    return tuple(tuple(_number(v, f"{name}[{i},{j}]", where) for j, v in enumerate(row)) for i, row in enumerate(raw))


def entries(network: Network, values: dict, where: str = "values") -> dict:
    """``values`` keyed by name, each matrix given as nested lists replaced by its entries ``NAME[i,j]`` (those
    the network reads: a matrix graph leaves out entries that do not reach the loss)."""
    values = by_name(values)
    if network.matrix is None and not any(isinstance(v, (list, tuple)) for v in values.values()):
        return values
    leaves = {s.name for s in network.leaves}
    out = {}
    for name, v in values.items():
        if not isinstance(v, (list, tuple)):
            shape = network.matrix.shape(name) if network.matrix is not None and name not in leaves else None
            if shape is not None:
                raise ValuesError(f"{where}: {name} is a {shape[0]}x{shape[1]} matrix; give it as a list of rows "
                                  f"in a values file, or entry by entry, e.g. --set \"{name}[0,0]=1\"")
            out[name] = v
            continue
        rows = v if all(isinstance(r, (list, tuple)) for r in v) else None
        shape = network.matrix.shape(name) if network.matrix is not None else None
        if shape is None:
            raise ValuesError(f"{where}: {name} is given as a matrix, but this network has no matrix {name} "
                              "(a network file's [shapes] names its matrices)")
        given = (len(rows), len(rows[0])) if rows and rows[0] and len({len(r) for r in rows}) == 1 else None
        if given != shape:
            shown = f"{given[0]}x{given[1]}" if given else "not a list of equal rows"
            raise ValuesError(f"{where}: {name} is {shown}; the network's {name} is {shape[0]}x{shape[1]}")
        out.update({f"{name}[{i},{j}]": x for i, row in enumerate(rows) for j, x in enumerate(row)
                    if f"{name}[{i},{j}]" in leaves})
    return out


def check_batch(network: Network, values: dict) -> tuple[dict[sp.Symbol, Fraction], ...]:
    """A batch's values, one full set of values per sample: the weights and biases outside ``samples``,
    each sample's inputs and targets inside it. Anything missing, unknown or misplaced: one line naming it."""
    samples = values.get(SAMPLES)
    if samples is None:
        return (check_values(network, values),)
    if not samples:
        raise ValuesError("values: samples is empty; give at least one sample")
    shared = entries(network, {k: v for k, v in values.items() if k != SAMPLES})
    data = [s.name for s in list(network.inputs) + list(network.targets)]
    params = [s.name for s in network.parameters]
    misplaced = [n for n in shared if n in data]
    if misplaced:
        raise ValuesError(f"values: {', '.join(misplaced)} given outside samples; with samples, each sample gives "
                          f"every input and target ({', '.join(data)})")
    _exactly(shared, params, "values", f"the weights and biases are {', '.join(params)}", "weights and biases go outside samples")
    out = []
    for i, sample in enumerate(samples, start=1):
        sample = entries(network, sample, f"sample {i}")
        _exactly(sample, data, f"sample {i}", f"a sample gives inputs and targets: {', '.join(data)}",
                 f"a sample gives every input and target: {', '.join(data)}", "key ")
        out.append(check_values(network, shared | sample))
    return tuple(out)


def by_name(values: dict) -> dict:
    """``values`` keyed by name (a symbol key by its name)."""
    return {(k if isinstance(k, str) else k.name): v for k, v in values.items()}


def _exactly(given: dict, allowed: list[str], where: str, unknown_why: str, missing_why: str, noun: str = "") -> None:
    # Every allowed name given and nothing else: else one line naming the unknown (sorted), then the missing.
    unknown = sorted(n for n in given if n not in allowed)
    if unknown:
        raise ValuesError(f"{where}: unknown {noun}{', '.join(unknown)} ({unknown_why})")
    missing = [n for n in allowed if n not in given]
    if missing:
        raise ValuesError(f"{where}: missing {', '.join(missing)} ({missing_why})")


REDUCTIONS = ("mean", "sum")


def check_reduction(reduction: str) -> str:
    """``mean`` or ``sum``; else a one-line error."""
    if reduction not in REDUCTIONS:
        raise ValuesError(f"--reduction {reduction!r}: choose mean (the default) or sum")
    return reduction


def reduce_numbers(numbers, reduction: str, exact: bool) -> "Number":
    """The mean or sum of ``numbers`` (Numbers), exactly when every one is exact."""
    numbers = list(numbers)
    if exact and all(n.exact for n in numbers):
        total = sum((n.value for n in numbers), Fraction(0))
        return Number(total / len(numbers) if reduction == "mean" else total, True)
    with mpmath.workdps(DIGITS + 10):
        terms = [as_mpf(n.value) for n in numbers]
        total = mpmath.fsum(terms)
        # Terms that cancel to below their own digits' reach: 0 to the digits computed, not their rounding.
        if total and mpmath.mag(total) < max(mpmath.mag(t) for t in terms if t) - int(3.33 * (DIGITS - 10)):
            total = mpmath.mpf(0)
        return Number(total / len(numbers) if reduction == "mean" else total, False)


def parse_assignments(items: list[str]) -> dict[str, Fraction]:
    """``["W1=0.15", "X1=1/20"]`` -> names and exact numbers."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValuesError(f"--set {item!r}: write NAME=NUMBER, e.g. --set W1=0.15")
        name, raw = item.split("=", 1)
        out[name.strip()] = _number(raw, name.strip(), "--set")
    return out


def check_values(network: Network, values: dict[str, Fraction]) -> dict[sp.Symbol, Fraction]:
    """Every input, target, weight and bias must have a value, and nothing else may (a matrix's given as
    nested lists, or entry by entry)."""
    values = entries(network, values)
    needed = list(network.inputs) + list(network.targets) + list(network.parameters)
    names = {s.name for s in needed}
    missing = [s.name for s in needed if s.name not in values]
    unknown = sorted(n for n in values if n not in names)
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown {', '.join(unknown)} (this network has {', '.join(s.name for s in needed)})")
    if problems:
        raise ValuesError("values: " + "; ".join(problems))
    return {s: v if isinstance(v, Fraction) else _number(v, s.name, "values") for s in needed for v in (values[s.name],)}


class _NotExact(Exception):
    pass


def _exact(expr: sp.Basic, env: dict[sp.Symbol, Fraction], memo: dict) -> Fraction:
    hit = memo.get(expr)
    if hit is not None:
        return hit
    e = expr
    if e.is_Symbol:
        out = env[e]
        if not isinstance(out, (Fraction, int)):  # a neuron's output computed to 50 digits (too many digits exactly)
            raise _NotExact("a value computed to 50 digits")
    elif e.is_Rational:
        out = Fraction(int(e.p), int(e.q))
    elif e.is_Add:
        out = sum((_exact(a, env, memo) for a in e.args), Fraction(0))
    elif e.is_Mul:
        out = Fraction(1)
        for a in e.args:
            out *= _exact(a, env, memo)
    elif e.is_Pow and e.args[1].is_Integer:
        base = _exact(e.args[0], env, memo)
        if base == 0 and e.args[1] < 0:
            raise ZeroDivisionError("division by zero")
        if _bits(base) * abs(int(e.args[1])) > _exact_bits():  # sized before it is computed
            raise _NotExact("too many digits")
        out = base ** int(e.args[1])
    elif (rule := rule_for(e)) is not None and rule.exact is not None:
        # Rational at rational arguments (sign, |.|, max, relu, ...): the table's exact value.
        out = rule.exact(*(_exact(a, env, memo) for a in e.args))
    else:
        raise _NotExact(type(e).__name__)
    if _bits(out) > _exact_bits():
        # Exact numbers can double in size at every square (n_i = n_(i-1)**2 + p over 20 nodes: a million
        # digits): past the exact_digits limit the value is computed to 50 digits instead, and says so.
        raise _NotExact("too many digits")
    memo[expr] = out
    return out


def _bits(v: Fraction) -> int:
    return max(v.numerator.bit_length(), v.denominator.bit_length())


def _exact_bits() -> int:
    """The exact_digits limit in bits (3.33 bits a digit)."""
    return int(limits.current().exact_digits * 3.33) + 4


@record
class Number:
    """A value: exact (a Fraction) or computed with 50 digits (an mpf)."""

    value: object
    exact: bool
    # Computed (not exact) and so small beside the numbers it was computed from that its digits may be their
    # rounding only (an exact 0 reached by cancellation): what is printed computes it again (see recheck).
    faint: bool = field(default=False, compare=False)

    def __float__(self) -> float:
        """The nearest double; +-inf past the doubles' range (JSON writes those as null)."""
        try:
            return float(self.value)
        except OverflowError:
            return float("inf") if self.value > 0 else float("-inf")

    def __str__(self) -> str:
        if self.exact and max(self.value.numerator.bit_length(), self.value.denominator.bit_length()) > 4000:
            # Too many digits to print exactly (Python refuses int -> text past 4300 digits): 15 shown.
            return mpmath.nstr(as_mpf(self.value), SHOWN)
        if self.exact:
            v: Fraction = self.value
            if v.denominator == 1:
                return str(v.numerator)
            d, twos, fives = v.denominator, 0, 0
            while d % 2 == 0:
                d, twos = d // 2, twos + 1
            while d % 5 == 0:
                d, fives = d // 5, fives + 1
            digits = max(twos, fives, 1)
            if d == 1 and digits <= 30:  # a short terminating decimal: print it exactly (2^a 5^b needs max(a, b) decimals)
                scaled = str(abs(v.numerator) * 10**digits // v.denominator).rjust(digits + 1, "0")
                text = ("-" if v < 0 else "") + (scaled[:-digits] + "." + scaled[-digits:]).rstrip("0").rstrip(".")
                return text
            return f"{v.numerator}/{v.denominator} (~{mpmath.nstr(mpmath.mpf(v.numerator) / v.denominator, SHOWN)})"
        if not self.value:
            return "0"  # a zero is 0, computed or exact (mpmath writes 0.0)
        return mpmath.nstr(self.value, SHOWN)


def as_mpf(v, digits: int = DIGITS):
    """A Fraction (or number) as an mpmath number at the working precision (``digits`` + 10 digits)."""
    with mpmath.workdps(digits + 10):
        return mpmath.mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else mpmath.mpf(v)


def evaluate_at(expr: sp.Expr, env: dict[sp.Symbol, Fraction], memo: dict | None = None, digits: int = DIGITS) -> Number:
    """``expr`` at the values in ``env``: exact when every piece allows it, else to ``digits`` (50) digits."""
    try:
        return Number(_exact(expr, env, {} if memo is None else memo), True)
    except _NotExact:
        return _numeric(expr, env, digits)
    except ZeroDivisionError:
        raise _undefined(expr, "a division by zero") from None


def _undefined(expr, reason: str, error: type[EvaluationError] = EvaluationError) -> EvaluationError:
    shown = str(expr)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return error(f"at these values {shown} is undefined ({reason}); choose other values")


def forward(network: Network, values: dict, exact: bool = True, digits: int = DIGITS) -> dict[sp.Symbol, Number]:
    """Each neuron's output at the values, in neuron order: exact where possible (``exact=False``:
    ``digits``-digit arithmetic throughout, as for values that are already mpmath numbers)."""
    env: dict[sp.Symbol, object] = dict(values)
    out: dict[sp.Symbol, Number] = {}
    for n in network.neurons:
        v = evaluate_at(n.equation, env, digits=digits) if exact else _numeric(n.equation, env, digits)
        exact &= v.exact
        out[n.symbol] = v
        env[n.symbol] = v.value
    return out


def _numeric(expr, env, digits: int = DIGITS) -> Number:
    with mpmath.workdps(digits + 10):
        point = {s: as_mpf(v, digits) for s, v in env.items()}
        largest: list = []
        try:
            value = evaluate_numeric(expr, point, digits, magnitude=largest)
        except Undefined as exc:
            reason = str(exc) if digits == DIGITS else f"{exc}, even with {digits}-digit arithmetic"
            raise _undefined(expr, reason, RoundedAway) from None
        # Faint: below the rounding of the largest number met on the way (a cancellation's leftovers).
        faint = bool(value) and mpmath.mag(value) < largest[0] - int(3.33 * (digits - 10))
        return Number(value, False, faint)


def environment(network: Network, values: dict, exact: bool = True, digits: int = DIGITS) -> tuple[dict, bool]:
    """Values plus every neuron's output: what local expressions (in neuron symbols) need; and
    whether every output was computed exactly."""
    outs = forward(network, values, exact, digits)
    env: dict = dict(values)
    env.update({s: n.value for s, n in outs.items()})
    return env, all(n.exact for n in outs.values())


def value_of(expr: sp.Expr, env: dict, exact: bool, digits: int = DIGITS) -> Number:
    """``expr`` in an environment from :func:`environment`."""
    if exact:
        return evaluate_at(expr, env, digits=digits)
    return _numeric(expr, env, digits)



def settled(expr: sp.Expr, number: Number, env: dict, exact: bool, digits: int) -> Number:
    """A faint ``number`` (``expr``'s value) settled: computed again in ``env``, an environment at ``digits``
    (``RECHECK`` more than before), it is that value where it stands clear of its rounding there, else 0 to
    the digits computed (an exact 0 reached by cancellation prints ``0``, not its rounding)."""
    if not number.faint:
        return number
    again = value_of(expr, env, exact, digits)
    return Number(mpmath.mpf(0), False) if again.faint else again
