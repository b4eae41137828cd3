"""dLoss/dparameter derived three ways and verified: the object the CLI, exports and notebooks show."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import memo
from ..record import record
from ..result import Result
from ..engines.backprop import Backprop, DeltaEquation, backprop, delta_equations, delta_symbol
from .chains import Chain, chain, path_chain
from ..engines.forms import Ordered, OrderedSum
from ..symbolic.walk import atoms_shared, contains, replace_shared, with_conventions
from ..engines.direct import Direct, direct
from ..model.network import Network
from ..engines.paths import DEFAULT_MAX_PATHS, PathSum, sum_over_paths
from .compare import Verdict, verify


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
class Derivation(Result):
    """dLoss/dparameter: the paths, their sum, the backprop form, the direct result and the verdict."""

    kind = "derivation"  # the renderers' method for it (see derivchain.result)

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
                                                       _case_memo(self.network, (s, v))))
                     for v in (1, -1))

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

    @property
    def delta_form(self):
        """dLoss/dparameter in delta symbols (``X1*delta_H1``, a sum over several uses): the first form of the
        verified :attr:`entry_chain`, so a row printed this way is the form that chain compared."""
        return self.entry_chain.forms[0]

    @cached_property
    def delta_chains(self) -> tuple[Chain, ...]:
        """Each delta the parameter needs: delta = its recursion = its value (a named rewrite where one applies)."""
        return tuple(delta_chain(self.network, eq) for eq in self.backprop.deltas)

    def chains(self) -> tuple[Chain, ...]:
        """Every chain of equalities the renderers print for this derivation."""
        return (*self.path_chains, self.sum_chain, self.entry_chain, *self.delta_chains, *self.loss_chains)

    @property
    def loss_chains(self) -> tuple[Chain, ...]:
        """dLoss/dOut per output: SymPy's derivative of the loss = the textbook form the derivations use."""
        return loss_chains(self.network)

    def conditional(self, delta: sp.Symbol) -> Conditional | None:
        """The textbook form of ``delta`` that holds under a condition on the targets, if the loss has one."""
        return conditional_deltas(self.network).get(delta)

    @property
    def checked(self) -> bool:
        """True when every chain and conditional form was verified (what a renderer prints of the direct result is
        checked where it decides what to print: :func:`derivchain.renderers.shown.checked`)."""
        conditionals = [self.conditional(eq.delta) for eq in self.backprop.deltas]
        return all(c.verified for c in self.chains()) and all(c.verdict.equal for c in conditionals if c is not None)

    def __repr__(self) -> str:
        noun = "path" if self.path_count == 1 else "paths"
        return f"Derivation(d{self.network.loss_symbol}/d{self.parameter}: {self.path_count} {noun}, {self.verdict.word})"


def _case_memo(network: Network, key) -> dict:
    """The replaced nodes for one side of one kink (``key``: the sign node and the side), emptied past
    :data:`derivchain.memo.NODES` entries as the network's other node memos are."""
    cases = network.memos[memo.CASES]
    replaced = cases.get(key)
    if replaced is None or len(replaced) > memo.NODES:
        replaced = cases[key] = {}
    return replaced


def _may_read_sign(network: Network, bp: Backprop) -> bool:
    """False when no sign(...) can be in ``bp.local``: it is the sum of each use's coefficient times the
    delta value of the node used, and evaluating sums and products makes no new sign(...). Each delta
    value is looked at once per network (every weight into a neuron shares it), not walked per row."""
    seen = network.memos[memo.READS_SIGN].room()
    values = delta_values(network)
    return any(contains(c, sp.sign, seen) or (n is not None and contains(values[delta_symbol(n)], sp.sign, seen))
               for c, n in bp.uses)


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
    return network.memos.value(memo.CONDITIONAL_DELTAS, lambda: _conditional_deltas(network))


def _conditional_deltas(network: Network) -> dict[sp.Symbol, Conditional]:
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
    return hit


def entry_chain(network: Network, bp: Backprop, lhs: sp.Expr | None = None) -> Chain:
    """dLoss/dW = source * delta_target = the backprop form, verified with the deltas replaced by their
    values (``lhs``: dLoss/dW as the derivation has it, else built)."""
    lhs = sp.Derivative(network.loss_symbol, bp.parameter) if lhs is None else lhs
    # The replaced nodes kept across rows: every weight into a neuron compares that neuron's delta value.
    return chain(lhs, (bp.entry, bp.local), rule=delta_values(network),
                 rule_memo=network.memos[memo.DELTA_VALUES_REPLACED].room())


def delta_values(network: Network) -> dict[sp.Symbol, sp.Expr]:
    """Each delta symbol -> its value in neuron symbols: what a delta chain's links compare."""
    return network.memos.value(memo.DELTA_VALUES, lambda: {eq.delta: eq.value for eq in delta_equations(network).values()})


def delta_chain(network: Network, eq: DeltaEquation) -> Chain:
    """delta = the recursion = its value; verified once per network."""
    cache = network.memos[memo.DELTA_CHAINS]
    hit = cache.get(eq.delta)
    if hit is None:
        hit = cache[eq.delta] = chain(eq.delta, (eq.rhs_form, eq.value), ("", eq.rewrite), rule=delta_values(network),
                                      rule_memo=network.memos[memo.DELTA_VALUES_REPLACED].room())
    return hit


def loss_chains(network: Network) -> tuple[Chain, ...]:
    """dLoss/dOut: SymPy's derivative of the loss = the textbook form the derivations use (per output)."""
    return network.memos.value(memo.LOSS_CHAINS, lambda: tuple(
        chain(sp.Derivative(network.loss_symbol, o.symbol), (with_conventions(sp.diff(network.loss_local, o.symbol)), network.loss_derivative(o)))
        for o in network.outputs))


@record(repr=False)
class Table(Result):
    """Every parameter's derivation, derived one by one as ``rows`` is iterated (nothing kept). Each row is
    printed in delta form (``X1*delta_H1``) after the delta equations (:attr:`deltas`), defined once;
    ``expand``: each row's gradient written out in neuron symbols instead (as before issue 26)."""

    kind = "table"  # the renderers' method for it (see derivchain.result)

    network: Network
    max_paths: int = 0
    expand: bool = False

    @property
    def rows(self):
        """The derivations, in parameter order, each derived (and, in delta form, its entry chain
        verified) when asked for. Until the iteration ends (or the iterator is closed or dropped), Python's
        automatic garbage collector is held (see :func:`derivchain.memo.bulk_work`)."""
        with memo.bulk_work():  # the collector runs between rows, over what they left (see memo.bulk_work)
            for p in self.network.parameters:
                d = derive(self.network, p, max_paths=self.max_paths)
                if not self.expand:
                    with memo.working_for(self.network):
                        d.entry_chain  # verified here, before a renderer prints its first form
                memo.step()
                yield d

    @property
    def deltas(self) -> tuple[Chain, ...]:
        """Every neuron's delta equation, from the outputs back: delta = its recursion in the next layer's deltas
        (the chain's first form) = its value in neuron symbols, each link verified once per network."""
        # Layer by layer from the outputs, each layer in node order (as grad lists the deltas it needs).
        order = sorted(self.network.neurons, key=lambda n: -n.layer)
        with memo.working_for(self.network), memo.bulk_work():
            equations = delta_equations(self.network)
            return tuple(delta_chain(self.network, equations[n.symbol]) for n in order)

    @staticmethod
    def row_equal(d: Derivation, expand: bool = False) -> bool:
        """A row's claim checked: the three forms equal and, in delta form, the delta form equal to them."""
        return d.verdict.equal and (expand or d.entry_chain.verified)

    @staticmethod
    def row_word(d: Derivation, expand: bool = False) -> str:
        """The verdict word a row prints: the verdict's own, or ``NOT shown`` where the three forms were shown equal
        but the delta form printed was not shown equal to them (never "equal" beside it)."""
        return d.verdict.word if expand or not d.verdict.equal or d.entry_chain.verified else "NOT shown"

    def __len__(self) -> int:
        return len(self.network.parameters)

    def __repr__(self) -> str:
        return f"Table({len(self)} parameters)"


def derive(network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> Derivation:
    """Derive dLoss/dparameter by direct differentiation, sum over paths and backprop, and verify.

    At most ``max_paths`` paths are listed; past that the path sum is accumulated by suffix.
    """
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    with memo.working_for(network):  # what the walks and the verifier remember is the network's
        paths = sum_over_paths(network, symbol, max_paths)
        bp = backprop(network, symbol)
        dr = direct(network, symbol)
        verdict = verify({"direct": dr.compared, "path sum": paths.substituted, "backprop": bp.substituted})
    return Derivation(network, symbol, paths.count, paths, bp, dr, verdict)
