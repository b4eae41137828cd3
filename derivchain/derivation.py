"""dLoss/dparameter derived three ways and verified: the object the CLI, exports and notebooks show."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .record import record
from .backpropagation import Backprop, DeltaEquation, backprop, delta_equations, delta_symbol
from .chains import Chain, Ordered, OrderedSum, chain, path_chain, tree_size
from .differentiate import atoms_shared, canonical, contains, replace_shared
from .direct_derivative import Direct, direct
from .network import Network
from .paths import DEFAULT_MAX_PATHS, PathSum, sum_over_paths
from .rules import rule_for
from .verification import Verdict, verify, weakest


#: Largest printed tree (in nodes, shared subtrees counted each time) shown fully substituted.
SHOW_FULL_NODES = 160
#: Largest direct result (as printed, in neuron symbols) printed at all, and the substituted size
#: past which compaction is not attempted.
SHOW_COMPACT_NODES = 2000
SHOW_COMPACT_SOURCE = 50_000


@record
class Case:
    """The derivative on one side of a kink: for ``condition``, sign(...) is ``sign`` and dLoss/dw is ``value``."""

    argument: sp.Expr
    sign: int
    value: sp.Expr

    @property
    def condition(self) -> str:
        """``Out - Y > 0``."""
        return f"{self.argument} {'>' if self.sign > 0 else '<'} 0"


@record(repr=False)
class Derivation:
    """dLoss/dparameter: the paths, their sum, the backprop form, the direct result and the verdict."""

    network: Network
    parameter: sp.Symbol
    path_count: int
    path_sum: PathSum
    backprop: Backprop
    direct: Direct
    verdict: Verdict

    @property
    def paths(self):
        """The paths listed from the parameter to the loss, in order (at most the display cap)."""
        return self.path_sum.paths

    @cached_property
    def _per_neuron(self) -> tuple | None:
        """(dz/dw, dLoss/dz, z's bit) when the direct result compared is their product (a wide network,
        see :func:`derivchain.direct_derivative.direct`) and too long to print in full, else None:
        then the printed forms below are built from those two verified factors, not from a fresh
        per-weight derivative (which a table would compact, size and check once per weight)."""
        factors = self.direct.factors
        if factors is None or self._compared_size(SHOW_FULL_NODES) <= SHOW_FULL_NODES:
            return None
        return factors

    def _compared_size(self, limit: int) -> int:
        """``tree_size(self.direct.compared, limit)``, dLoss/dz sized once per neuron: ``compared`` is
        ``product([dz/dw, dLoss/dz])``, that product's node over its two factors (or one factor alone)."""
        inner, outer, bit = self.direct.factors
        compared = self.direct.compared
        if compared is not outer and not (compared.is_Mul and compared.args == (inner, outer)):
            return tree_size(compared, limit, self.network.sizes())  # product() dropped a factor or found a zero
        outer_size = _neuron_size(self.network, "direct_neuron_size", bit, outer, limit)
        if compared is outer:
            return outer_size
        return min(1 + tree_size(inner, limit, self.network.sizes()) + outer_size, limit + 1)

    @cached_property
    def direct_in_full(self) -> bool:
        """True when the direct result is short enough to print fully substituted."""
        if self._per_neuron is not None:
            return False
        return tree_size(self.direct.value, SHOW_FULL_NODES, self.network.sizes()) <= SHOW_FULL_NODES

    @cached_property
    def direct_compact(self) -> sp.Expr:
        """The direct result with whole neurons written as their symbols (compacted before SymPy's
        evaluation flattens Out - Y and hides Out), in canonical form."""
        if self._per_neuron is not None:
            inner, outer, bit = self._per_neuron
            # (dz/dw) * (dLoss/dz), each factor compacted: dLoss/dz once per neuron for every weight into it.
            return sp.Mul(self.network.compact_canonical(inner), _neuron_compact(self.network, outer, bit))
        return self.network.compact_canonical(self.direct.value)

    @cached_property
    def direct_compactable(self) -> bool:
        """False when the direct result is past ``SHOW_COMPACT_SOURCE`` nodes written out: then it is not
        written in neuron symbols at all (in any format), only compared in full."""
        size = (tree_size(self.direct.value, SHOW_COMPACT_SOURCE, self.network.sizes()) if self._per_neuron is None
                else self._compared_size(SHOW_COMPACT_SOURCE))
        return size <= SHOW_COMPACT_SOURCE

    @cached_property
    def direct_shown(self) -> sp.Expr | None:
        """The direct result as printed: in full when short, else with whole neurons as their symbols,
        or None when even that is too long to read."""
        if self.direct_in_full:
            return canonical(self.direct.value)
        if not self.direct_compactable:
            return None
        compact = self.direct_compact
        return compact if self._compact_size(compact, SHOW_COMPACT_NODES) <= SHOW_COMPACT_NODES else None

    def _compact_size(self, compact: sp.Expr, limit: int) -> int:
        """``tree_size(compact, limit)``, the compacted dLoss/dz of a wide network's neuron sized once per
        neuron: ``compact`` is SymPy's product of (dz/dw) and it, their factors side by side when nothing
        merged (then its size is one node over their factors' sizes)."""
        if self._per_neuron is None:
            return tree_size(compact, limit)
        inner, outer, bit = self._per_neuron
        shared = _neuron_compact(self.network, outer, bit)
        own, theirs = sp.Mul.make_args(self.network.compact_canonical(inner)), sp.Mul.make_args(shared)
        if not compact.is_Mul or len(compact.args) != len(own) + len(theirs) or set(compact.args) != set(own) | set(theirs):
            return tree_size(compact, limit)
        # The shared factors' sizes: dLoss/dz's own, less its product node when it is a product.
        shared_size = _neuron_size(self.network, "direct_compact_size", bit, shared, limit)
        size = 1 + sum(tree_size(f, limit) for f in own) + shared_size - (1 if shared.is_Mul else 0)
        return min(size, limit + 1)

    def cases(self) -> tuple[Case, ...]:
        """The two sides of the single sign(...) kink in the result (the worked example's case split)."""
        return self._cases

    @cached_property
    def _cases(self) -> tuple[Case, ...]:
        # Built once: JSON prints the cases twice (its ``cases`` key and its LaTeX block).
        if not _may_read_sign(self.network, self.backprop):
            return ()
        signs = sorted(atoms_shared(self.backprop.local, sp.sign), key=sp.default_sort_key)
        if len(signs) != 1:
            return ()
        s = signs[0]
        # Each side's replaced nodes kept across rows: every weight into a neuron shares its delta's value.
        return tuple(Case(s.args[0], v, replace_shared(self.backprop.local, {s: sp.Integer(v)},
                                                       _memo_for(self.network, "cases", (s, v))))
                     for v in (1, -1))

    def notes(self) -> tuple[str, ...]:
        """What happens at the non-differentiable points this derivation touches."""
        loss, *activations = noted(self.network)
        first = [loss.note] if loss is not None else []
        lam = self.network.l2
        if lam is not None:
            first.append(f"L2 regularisation: the loss adds lambda/2 * (sum of squared weights), lambda = {sp.Rational(lam.numerator, lam.denominator)}, "
                         "biases excluded; each weight's gradient gains the path-free term lambda * w (the path w -> Loss).")
        return (*first, *self.own_notes(), *(a.note for a in activations))

    def own_notes(self) -> tuple[str, ...]:
        """The notes about this derivation itself (paths not listed, a sum by suffix, a direct result
        not printed), without the network's conventions (see :func:`noted`, printed once in a document)."""
        notes = []
        if not self.path_sum.listed_all:
            notes.append(f"{self.path_count} paths: the first {len(self.paths)} are listed (raise --max-paths to see more).")
        if not self.path_sum.enumerated:
            notes.append(f"the sum over all {self.path_count} paths is accumulated by suffix, each shared tail added once.")
        if self.direct_shown is None:
            notes.append(
                f"the direct result has more than {SHOW_COMPACT_NODES} nodes even with whole neurons written "
                "as their symbols, so it is not printed; the verdict compares it in full."
            )
        return tuple(notes)

    @cached_property
    def lhs(self) -> sp.Expr:
        """dLoss/dparameter as an unevaluated derivative (printed as a partial-derivative fraction)."""
        return sp.Derivative(self.network.loss_symbol, self.parameter)

    @cached_property
    def path_chains(self) -> tuple[Chain, ...]:
        """Each listed path: its chain of partials = the factors in path order = its term."""
        return tuple(path_chain(p) for p in self.paths)

    @cached_property
    def sum_chain(self) -> Chain:
        """dLoss/dW = the path terms added, in path order (when every path is listed) = the sum as collected."""
        forms: list = [self.path_sum.local]
        if self.path_sum.enumerated and self.path_sum.listed_all and len(self.paths) > 1:
            forms.insert(0, OrderedSum(tuple(Ordered(tuple(f.value for f in p.factors)) for p in self.paths)))
        return chain(self.lhs, forms)

    @cached_property
    def entry_chain(self) -> Chain:
        """dLoss/dW = source * delta_target = the backprop form (deltas replaced by their values)."""
        return entry_chain(self.network, self.backprop, self.lhs)

    @cached_property
    def delta_chains(self) -> tuple[Chain, ...]:
        """Each delta the parameter needs: delta = its recursion = its value (a named rewrite where one applies)."""
        return tuple(delta_chain(self.network, eq) for eq in self.backprop.deltas)

    @cached_property
    def direct_check(self) -> Verdict | None:
        """The printed direct result (compacted or canonical) checked against the one compared."""
        shown = self.direct_shown
        if shown is None:
            return None
        if self._per_neuron is not None:
            # The printed form is sp.Mul(a, b), a = dz/dw and b = dLoss/dz compacted: each factor is
            # checked against its own factor of the product compared (b once per neuron), and SymPy's
            # evaluation of a product (sorting, collecting powers) keeps its value, so shown = compared.
            inner, outer, bit = self._per_neuron
            return weakest((verify({"dz/dw": inner, "shown": self.network.substitute(self.network.compact_canonical(inner))}),
                            _neuron_check(self.network, outer, bit)))
        return verify({"direct": self.direct.compared, "shown": self.network.substitute(shown)})

    def chains(self) -> tuple[Chain, ...]:
        """Every chain of equalities the renderers print for this derivation."""
        return (*self.path_chains, self.sum_chain, self.entry_chain, *self.delta_chains, *loss_chains(self.network))

    def conditional(self, delta: sp.Symbol) -> Conditional | None:
        """The textbook form of ``delta`` that holds under a condition on the targets, if the loss has one."""
        return conditional_deltas(self.network).get(delta)

    @property
    def checked(self) -> bool:
        """True when every printed equality was verified (every chain, conditional form and the printed direct form)."""
        direct_ok = self.direct_check is None or self.direct_check.equal
        conditionals = [self.conditional(eq.delta) for eq in self.backprop.deltas]
        return (direct_ok and all(c.verified for c in self.chains())
                and all(c.verdict.equal for c in conditionals if c is not None))

    def __repr__(self) -> str:
        noun = "path" if self.path_count == 1 else "paths"
        return f"Derivation(d{self.network.loss_symbol}/d{self.parameter}: {self.path_count} {noun}, {self.verdict.word})"


def _neuron_size(network: Network, name: str, bit: int, expr: sp.Expr, limit: int) -> int:
    """``tree_size(expr, limit)`` for a form one neuron's weights share (``bit``: its z's), kept per neuron
    in the network's ``name`` cache: an exact size answers any limit, a capped one any smaller limit."""
    sizes = network.cache.setdefault(name, {})
    known = sizes.get(bit)  # (size capped at asked + 1, asked)
    if known is None or (known[0] > known[1] and limit > known[1]):
        known = sizes[bit] = (tree_size(expr, limit, network.sizes()), limit)
    return min(known[0], limit + 1)


def _memo_for(network: Network, name: str, key) -> dict:
    """The network's memo for one rule (``key``) among several of one kind, emptied as its memos are."""
    memo = network.cache.setdefault(name, {}).setdefault(key, {})
    if len(memo) > network.MEMO_LIMIT:
        memo.clear()
    return memo


def _may_read_sign(network: Network, bp: Backprop) -> bool:
    """False when no sign(...) can be in ``bp.local``: it is the sum of each use's coefficient times the
    delta value of the node used, and evaluating sums and products makes no new sign(...). Each delta
    value is looked at once per network (every weight into a neuron shares it), not walked per row."""
    memo = network.memo("reads_sign")
    values = delta_values(network)
    return any(contains(c, sp.sign, memo) or (n is not None and contains(values[delta_symbol(n)], sp.sign, memo))
               for c, n in bp.uses)


def _neuron_compact(network: Network, outer: sp.Expr, bit: int) -> sp.Expr:
    """dLoss/dz of one neuron (``bit``: its z's) compacted and canonical, once per network."""
    cache = network.cache.setdefault("direct_neuron_compact", {})
    hit = cache.get(bit)
    if hit is None:
        hit = cache[bit] = network.compact_canonical(outer)
    return hit


def _neuron_check(network: Network, outer: sp.Expr, bit: int) -> Verdict:
    """dLoss/dz compacted (as printed in every weight's direct form) checked against dLoss/dz, once per network."""
    cache = network.cache.setdefault("direct_neuron_check", {})
    hit = cache.get(bit)
    if hit is None:
        hit = cache[bit] = verify({"dLoss/dz": outer, "shown": network.substitute(_neuron_compact(network, outer, bit))})
    return hit


@record
class KinkNote:
    """A function's convention at its non-differentiable points (from the rule table), as a note."""

    note: str
    note_tex: str = ""  # none: documents print the text, escaped


def noted(network: Network) -> tuple:
    """The network's conventions at non-differentiable points: the loss if it has a note (else None),
    then each activation with a note, then each function with a kink that an expression node, a custom
    activation or a loss without a note calls, once (each has ``note`` and ``note_tex``); once per
    network (every row of a table asks)."""
    hit = network.cache.get("noted")
    if hit is None:
        hit = network.cache["noted"] = _noted(network)
    return hit


def _noted(network: Network) -> tuple:
    seen: dict = {}
    for n in network.neurons:
        if n.activation.note:
            seen.setdefault(n.activation.name.split(":")[0], n.activation)  # leaky_relu:0.1 is leaky_relu
    written = [n.equation for n in network.neurons] + ([] if network.loss.note else [network.loss_local])
    called = {rule.parser_name: rule for e in written for node in sp.preorder_traversal(e)
              if (rule := rule_for(node)) is not None and rule.kink}
    for name in sorted(called):
        seen.setdefault(name, KinkNote(called[name].kink))
    return (network.loss if network.loss.note else None, *seen.values())


@record
class Conditional:
    """``lhs = value`` where ``condition`` holds (substituted by ``rule``), verified under it."""

    lhs: sp.Expr
    condition: str
    equation: tuple[sp.Expr, sp.Expr]  # the condition as an equation, e.g. (Y1 + Y2, 1)
    value: sp.Expr | OrderedSum
    verdict: Verdict


def conditional_deltas(network: Network) -> dict[sp.Symbol, Conditional]:
    """Output deltas' textbook forms that hold under a condition on the targets (softmax: one-hot)."""
    hit = network.cache.get("conditional_deltas")
    if hit is not None:
        return hit
    hit = {}
    if network.loss.conditional is not None:
        words, imposed, derivative = network.loss.conditional
        outs, ys = [o.symbol for o in network.outputs], list(network.targets)
        rule = imposed(outs, ys)
        equation = (sp.Add(*ys), sp.S.One)
        deltas = delta_equations(network)
        for k, o in enumerate(network.outputs):
            eq = deltas[o.symbol]
            value = derivative(outs, ys, k) if eq.derivative == 1 else eq.derivative * derivative(outs, ys, k)
            verdict = verify({"delta": eq.value.xreplace(rule), "textbook": value.xreplace(rule)})
            if value.is_Add:  # as the textbook writes it: softmax_k(Out) - Y_k, the subtracted terms last
                terms = sp.Add.make_args(value)
                value = OrderedSum(tuple(t for t in terms if not t.could_extract_minus_sign())
                                   + tuple(t for t in terms if t.could_extract_minus_sign()))
            hit[eq.delta] = Conditional(eq.delta, words, equation, value, verdict)
    network.cache["conditional_deltas"] = hit
    return hit


def entry_chain(network: Network, bp: Backprop, lhs: sp.Expr | None = None) -> Chain:
    """dLoss/dW = source * delta_target = the backprop form, verified with the deltas replaced by their
    values (``lhs``: dLoss/dW as the derivation has it, else built)."""
    lhs = sp.Derivative(network.loss_symbol, bp.parameter) if lhs is None else lhs
    # The replaced nodes kept across rows: every weight into a neuron compares that neuron's delta value.
    return chain(lhs, (bp.entry, bp.local), rule=delta_values(network),
                 rule_memo=network.memo("delta_values_memo"))


def delta_values(network: Network) -> dict[sp.Symbol, sp.Expr]:
    """Each delta symbol -> its value in neuron symbols: what a delta chain's links compare."""
    hit = network.cache.get("delta_values")
    if hit is None:
        hit = network.cache["delta_values"] = {eq.delta: eq.value for eq in delta_equations(network).values()}
    return hit


def delta_chain(network: Network, eq: DeltaEquation) -> Chain:
    """delta = the recursion = its value; verified once per network."""
    cache = network.cache.setdefault("delta_chains", {})
    hit = cache.get(eq.delta)
    if hit is None:
        hit = cache[eq.delta] = chain(eq.delta, (eq.rhs_form, eq.value), ("", eq.rewrite), rule=delta_values(network),
                                      rule_memo=network.memo("delta_values_memo"))
    return hit


def loss_chains(network: Network) -> tuple[Chain, ...]:
    """dLoss/dOut: SymPy's derivative of the loss = the textbook form the derivations use (per output)."""
    hit = network.cache.get("loss_chains")
    if hit is None:
        hit = network.cache["loss_chains"] = tuple(
            chain(sp.Derivative(network.loss_symbol, o.symbol), (sp.diff(network.loss_local, o.symbol), network.loss_derivative(o)))
            for o in network.outputs
        )
    return hit


@record(repr=False)
class Table:
    """Every parameter's derivation, derived one by one as ``rows`` is iterated (nothing kept)."""

    network: Network
    max_paths: int = 0

    @property
    def rows(self):
        """The derivations, in parameter order, each derived when asked for."""
        return (derive(self.network, p, max_paths=self.max_paths) for p in self.network.parameters)

    def __len__(self) -> int:
        return len(self.network.parameters)

    def __repr__(self) -> str:
        return f"Table({len(self)} parameters)"


def derive(network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> Derivation:
    """Derive dLoss/dparameter by direct differentiation, sum over paths and backprop, and verify.

    At most ``max_paths`` paths are listed; past that the path sum is accumulated by suffix.
    """
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    paths = sum_over_paths(network, symbol, max_paths)
    bp = backprop(network, symbol)
    dr = direct(network, symbol)
    verdict = verify({"direct": dr.compared, "path sum": paths.substituted, "backprop": bp.substituted})
    return Derivation(network, symbol, paths.count, paths, bp, dr, verdict)
