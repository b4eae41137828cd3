"""Every entry of a matrix leaf: its gradient derived directly (the fully substituted loss differentiated)
and checked equal to backpropagation's, entry by entry.

Building the 256 direct derivatives of the 8-token, 16-dimension attention's loss as trees and verifying
each took 20 s (each a new tree of about 1,800 nodes, walked again for its constants and its values mod p).
So the direct derivative is evaluated where the modular test reads it: forward through the shared
substituted loss, at the test's random points modulo its prime, giving exactly the values the tree
:func:`~derivchain.symbolic.walk.differentiate` builds would have there (the same rules: a sum's terms, a
product's factors one at a time, integer powers, each function's partial from the rule table, nothing
simplified), with the same bound on its degree. Backpropagation's gradient is evaluated by the same
evaluator (the same prime and points, shared subtrees once), and equal values at every point are the
modular test's evidence (Schwartz-Zippel: false agreement below (d/p)**k). Where the values differ, a
denominator vanishes, or a node is one the forward pass does not take (a non-integer power such as sqrt, a
rule that asks for SymPy's own derivative), the direct derivative is built as a tree and verify() decides,
as for any parameter: a difference then is a counterexample, and anything undecided is not verified.
"""

from __future__ import annotations

from operator import add

import sympy as sp

from ..engines.direct import direct, loss_masks
from ..model.network import Network
from ..record import record
from ..symbolic.rules import rule_for
from ..symbolic.walk import function_partial
from .compare import verify
from .modular import POINTS, ModularEvaluator, Unsupported, chance_exponent, seed_of
from .verdict import STRENGTH


@record
class EntryCheck:
    """Each entry's direct derivative against its backpropagation gradient: how many entries were checked,
    the weakest method any needed, how the modular ones were found equal, and the entries that were not
    (each with the verifier's reason)."""

    checked: int
    method: str
    detail: str = ""
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def verified(self) -> bool:
        """Every entry's direct derivative shown equal to its backpropagation gradient."""
        return self.checked > 0 and not self.failed

    @property
    def summary(self) -> str:
        """One line: ``direct = backprop for 256 entries [random points mod p]`` or what failed."""
        if self.failed:
            name, why = self.failed[0]
            more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
            return f"direct != backprop for {name}{more}: {why}"
        return f"direct = backprop for {self.checked} entries [{self.method}]"


def check_entries(network: Network, gradients: dict[sp.Symbol, sp.Expr]) -> EntryCheck:
    """Derive each leaf of ``gradients`` directly and verify it equal to its backpropagation gradient there
    (substituted); within the network's memos (the caller's ``memo.working_for(network)``)."""
    loss, entries = network.loss_full, list(gradients)
    # One seed for every entry: the loss's constants and the gradients' (those the derivatives introduce, 2 of
    # a square, come from the rule table, fixed before any form), so one prime, one set of points, one memo.
    evaluator = ModularEvaluator(seed_of(loss, *gradients.values()))
    try:
        tangents, bad, degree = _forward(evaluator, loss, loss_masks(network), {p: network.parameter_index[p] for p in entries})
    except (Unsupported, RecursionError):
        tangents, bad, degree = {}, -1, 0
    methods, failed, worst = [], [], 1
    for p in entries:
        found = None
        try:
            want, wbad, wnum, wden = evaluator(gradients[p]) if bad != -1 else (None, -1, 0, 0)
        except (Unsupported, RecursionError):
            want, wbad, wnum, wden = None, -1, 0, 0
        if not (bad | wbad) and tangents.get(p, _ZERO) == want:
            found = "random points mod p"
            worst = max(worst, degree[0] + wden, wnum + degree[1])
        if found is None:  # the verifier decides, on the direct derivative built as a tree
            verdict = verify({"direct": direct(network, p).compared, "backprop": gradients[p]})
            if not (verdict.equal and verdict.decided):
                failed.append((p.name, verdict.detail))
                continue
            found = verdict.method
        methods.append(found)
    method = max(methods, key=STRENGTH.index) if methods else "none"
    detail = ""
    if "random points mod p" in methods:
        detail = (f"each entry's direct derivative, evaluated forward through the substituted loss, and its backpropagation "
                  f"gradient equal at {POINTS} random exact points modulo a 62-bit prime: false-agreement chance below "
                  f"1e-{chance_exponent(worst, evaluator.prime)} for each")
    return EntryCheck(len(entries), method, detail, tuple(failed))


_ZERO = (0,) * POINTS


def _forward(evaluator: ModularEvaluator, loss: sp.Expr, masks: dict, index: dict[sp.Symbol, int]):
    """d loss/d x for every leaf x of ``index`` (leaf -> its bit in ``masks``) as :func:`differentiate` would
    build it, at ``evaluator``'s points, without building it: one pass over the shared loss, each node's
    tangents (leaf -> values) from its arguments'. Returns the loss's tangents, the points where a
    denominator vanished, and bounds on the degrees (numerator, denominator) of every derivative."""
    prime = evaluator.prime
    wanted = 0
    for b in index.values():
        wanted |= 1 << b
    bit_of = {x: 1 << b for x, b in index.items()}
    done: dict[int, tuple[dict, int, int]] = {}  # id -> (tangents, numerator degree, denominator degree)
    bad = 0

    def times(tangent: dict, factor: tuple | None, into: dict) -> None:
        # Sums are taken without reducing mod p (a few bits more, at C speed); products reduce.
        if factor is None:  # a sum's term: added as it is
            if not into:
                into.update(tangent)
                return
            for x, v in tangent.items():
                old = into.get(x)
                into[x] = v if old is None else tuple(map(add, old, v))
            return
        if len(factor) == 4:  # the usual four points, written out
            f0, f1, f2, f3 = factor
            products = ((x, (a0 * f0 % prime, a1 * f1 % prime, a2 * f2 % prime, a3 * f3 % prime))
                        for x, (a0, a1, a2, a3) in tangent.items())
        else:
            products = ((x, tuple(p * q % prime for p, q in zip(a, factor))) for x, a in tangent.items())
        for x, v in products:
            old = into.get(x)
            into[x] = v if old is None else tuple(map(add, old, v))

    stack = [(loss, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in done:
            continue
        kids = [a for a in e.args if masks[a] & wanted]
        if not ready and kids:
            stack.append((e, True))
            stack.extend((a, False) for a in kids if id(a) not in done)
            continue
        out: dict = {}
        if e.is_Symbol:
            if e in bit_of:
                out[e] = (1,) * POINTS
            num = den = 0
        elif e.is_Add:
            den = sum(done[id(a)][2] for a in kids)
            num = max(done[id(a)][1] + den - done[id(a)][2] for a in kids)
            for a in kids:
                times(done[id(a)][0], None, out)
        elif e.is_Mul:
            values = [evaluator(a) for a in e.args]
            terms = []
            for i, a in enumerate(e.args):
                if not masks[a] & wanted:
                    continue
                cofactor, n, d = (1,) * POINTS, done[id(a)][1], done[id(a)][2]
                for j, v in enumerate(values):
                    if j != i:
                        cofactor = tuple(p * q % prime for p, q in zip(cofactor, v[0]))
                        bad, n, d = bad | v[1], n + v[2], d + v[3]
                times(done[id(a)][0], cofactor, out)
                terms.append((n, d))
            den = sum(d for _, d in terms)
            num = max(n + den - d for n, d in terms)
        elif e.is_Pow:
            base, ex = e.args
            if not ex.is_Integer or masks[ex] & wanted:
                raise Unsupported("a power the forward pass does not take")
            k = int(ex)
            v, b, n, d = evaluator(base)
            if k - 1 < 0:
                for lane, y in enumerate(v):
                    if y == 0:
                        b |= 1 << lane
                n, d = d * (1 - k), n * (1 - k)
            else:
                n, d = n * (k - 1), d * (k - 1)
            bad |= b
            factor = tuple(k * pow(y, k - 1, prime) % prime if y or k - 1 >= 0 else 0 for y in v)
            times(done[id(base)][0], factor, out)
            num, den = done[id(base)][1] + n, done[id(base)][2] + d
        elif isinstance(e, sp.Function) and ((rule := rule_for(e)) is None or rule.derivative is not None):
            terms = []
            for i, a in enumerate(e.args):
                if masks[a] & wanted:
                    f = function_partial(e, i + 1)
                    if f is not sp.S.Zero:
                        v, b, n, d = evaluator(f)
                        bad |= b
                        times(done[id(a)][0], v, out)
                        terms.append((done[id(a)][1] + n, done[id(a)][2] + d))
            den = sum(d for _, d in terms)
            num = max((n + den - d for n, d in terms), default=0)
        else:
            raise Unsupported("a node whose derivative SymPy takes")
        done[id(e)] = (out, num, den)
    tangents, num, den = done[id(loss)]
    return {x: tuple(v % prime for v in lanes) for x, lanes in tangents.items()}, bad, (num, den)
