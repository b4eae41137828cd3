"""What a document of notes shows, derived and verified: each parameter's derivation and step-by-step
derivation, and the delta equations they use (``derivchain export``); on a matrix graph, the chain of matrix
equations of each matrix leaf the parameters belong to."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import memo
from ..record import record
from ..engines.backprop import delta_equations
from ..engines.paths import DEFAULT_MAX_PATHS
from ..model.network import Network
from .chains import Chain
from .derivation import Conditional, Derivation, conditional_deltas, delta_chain, derive
from .steps import StepByStep, step_by_step


#: Pairs of paths a document lists for one second derivative (each term can be long; the sum covers them all).
LISTED_PAIRS = 6


@record
class SecondDerivative:
    """A document's second derivative: the entry (a HessianEntry), its numbers (a HessianAtValues) and the block
    over its two parameters (a HessianMatrix), both None without values."""

    entry: object
    at: object = None
    block: object = None


class Notes:
    """The notes on ``parameters`` of ``network``: worked out when first read (a writer checks its target files
    before the slow derivations), each part once."""

    def __init__(self, network: Network, parameters, max_paths: int = DEFAULT_MAX_PATHS, detailed=None,
                 hessians=(), values=None, reduction: str = "mean"):
        self.network, self.max_paths = network, max_paths
        # Second derivatives (export --hessian P,Q): the pairs (P, Q), and the values' samples (check_batch's) or None.
        self.pairs = tuple(tuple(network.parameter(x) if isinstance(x, str) else x for x in pair) for pair in hessians)
        self.values, self.reduction = values, reduction
        self.parameters = tuple(network.parameter(p) if isinstance(p, str) else p for p in parameters)
        # Those with a section of their own (the derivation, its steps, its picture): all unless said.
        self.detailed = self.parameters if detailed is None else tuple(
            network.parameter(p) if isinstance(p, str) else p for p in detailed)
        self._steps: dict = {}

    @property
    def left_out(self) -> int:
        """How many parameters have a row in the table but no section of their own."""
        return len(self.parameters) - len(self.detailed)

    @cached_property
    def matrix_gradients(self) -> tuple:
        """On a matrix graph, each matrix leaf's chain of matrix equations (:func:`matrix_gradient`, every equation
        and every entry checked) for the leaves the parameters are entries of, in the file's order; else ()."""
        graph = self.network.matrix
        if graph is None:
            return ()
        from .matrix_chain import matrix_gradient

        names = {p.name for p in self.parameters}
        leaves = [leaf for leaf, _ in graph.leaves if graph.shape(leaf) is not None
                  and any(n.startswith(leaf + "[") for n in names)]
        return tuple(matrix_gradient(self.network, leaf) for leaf in leaves)

    @cached_property
    def derivations(self) -> tuple[Derivation, ...]:
        """Each parameter's derivation, three ways and verified, in order (its delta form verified too: the table prints it)."""
        derivations = tuple(derive(self.network, p, max_paths=self.max_paths) for p in self.parameters)
        with memo.working_for(self.network):
            for d in derivations:
                d.entry_chain  # verified here, before a renderer prints its first form
        return derivations

    def steps(self, d: Derivation) -> StepByStep:
        """The step-by-step derivation of ``d``'s parameter (each line checked equal to the next when shown)."""
        hit = self._steps.get(d.parameter)
        if hit is None:
            with memo.working_for(self.network):
                hit = self._steps[d.parameter] = step_by_step(self.network, d.parameter)
        return hit

    @cached_property
    def delta_chains(self) -> tuple[Chain, ...]:
        """The delta equations the derivations use, each once, from the outputs back, each chain verified."""
        used = {eq.delta for d in self.derivations for eq in d.backprop.deltas}
        with memo.working_for(self.network):
            return tuple(delta_chain(self.network, eq) for eq in delta_equations(self.network).values() if eq.delta in used)

    @cached_property
    def second_derivatives(self) -> tuple[SecondDerivative, ...]:
        """Each pair's d2Loss/(dP dQ) three ways and verified, listing at most :data:`LISTED_PAIRS` pairs of paths;
        with values, its numbers and the 2x2 block over P and Q (its Gauss-Newton and residual parts where the loss
        has them), computed two ways and compared."""
        from .hessian import derive_hessian, hessian_at_values
        from .hessian_matrix import full_hessian

        out = []
        for p, q in self.pairs:
            entry = derive_hessian(self.network, p, q, min(self.max_paths, LISTED_PAIRS))
            at = block = None
            if self.values is not None:
                at = hessian_at_values(entry, self.values, self.reduction)
                block = full_hessian(self.network, self.values, tuple(dict.fromkeys((p, q))), self.reduction)
            out.append(SecondDerivative(entry, at, block))
        return tuple(out)

    def conditional(self, delta: sp.Symbol) -> Conditional | None:
        """The textbook form of ``delta`` that holds under a condition on the targets, if the loss has one."""
        return conditional_deltas(self.network).get(delta)

    def __repr__(self) -> str:
        return f"Notes({len(self.parameters)} parameters of {self.network!r})"
