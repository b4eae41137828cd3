"""Direct differentiation of an expression tree, memoized over shared subexpressions.

The same calculus rules as ``sympy.diff`` (sum, product, power and chain rule, each function's own
``fdiff``), applied to the fully substituted expression: no network structure is used, so this
stays an independent check of the sum over paths and of backpropagation. What it adds is speed:
a subexpression shared by many neurons is differentiated once, and since every symbol in a network
is real, |u|' = sign(u) u' without SymPy's assumption queries on u (the slow part of ``sympy.diff``
on large trees). Each function's derivative is its entry's in :data:`derivchain.symbolic.rules.RULES`.
Tests check it against ``sympy.diff``.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.basic import _get_postprocessors

from .. import memo
from ..memo import FUNCTION_DERIVATIVES, current
from .build import add, mul
from .rules import RULES, rule_for, sign_of

def _fdiff(e: sp.Function, index: int, memo_: dict) -> sp.Expr:
    # f'(argument) of each function node: the same neuron's sigmoid appears in every weight's derivative,
    # so its fdiff is built once per owner (a network). By identity, the node kept beside its derivative:
    # by value, an equal node of another network would be compared node by node.
    key = (id(e), index)
    hit = memo_.get(key)
    if hit is None:
        rule = rule_for(e)
        own = rule is not None and rule.derivative is not None
        hit = memo_[key] = (e, rule.derivative(e, index) if own else e.fdiff(index))
    return hit[1]


def function_partial(e: sp.Function, index: int) -> sp.Expr:
    """d e / d(its argument ``index``, 1-based) as :func:`differentiate` writes it (kept by the current owner)."""
    return _fdiff(e, index, current(FUNCTION_DERIVATIVES).room())


def atoms_shared(expr: sp.Basic, *types) -> set:
    """``expr.atoms(*types)`` over shared subexpressions: each distinct node visited once (SymPy's
    walks the tree written out, exponential in depth on a network's nested outputs)."""
    seen, out, stack = set(), set(), [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, types):
            out.add(e)
        stack.extend(e.args)
    return out


def contains(expr: sp.Basic, cls, memo: dict) -> bool:
    """Whether ``expr`` has a node of type ``cls``, each distinct node looked at once; ``memo`` (id ->
    (node, answer)) may be kept across calls about the same ``cls`` (shared subtrees answered once)."""
    return fold_by_id(expr, memo, lambda e, inside: isinstance(e, cls) or any(inside))


def replace_shared(expr: sp.Basic, rule: dict, memo: dict | None = None, evaluate: bool = True,
                   rebuild: bool = False) -> sp.Basic:
    """``expr.xreplace(rule)`` over shared subexpressions: each distinct node is visited once.

    ``memo`` may be kept across calls that use the same ``rule`` (a network's substitution).
    With ``evaluate=False`` nodes are rebuilt as they stand, without SymPy's canonical sort of sums
    and products (which compares the large substituted arguments) or functions' own evaluation.
    With ``rebuild=True`` every node is rebuilt with evaluation, changed or not: ``canonical(expr.xreplace(rule))``
    in one walk (and with ``memo``, shared subtrees once across calls).
    """
    memo = {} if memo is None else memo
    # Keyed by identity (the node kept beside its result, so its id stays unique): two equal but
    # distinct copies of a deep shared tree (a delta built twice) would otherwise be compared node
    # by node on every lookup, which is exponential in depth on a DAG.
    def walk(e: sp.Basic) -> sp.Basic:
        hit = memo.get(id(e))
        if hit is not None:
            return hit[1]
        if e.is_Symbol or not e.args:
            out = rule.get(e, e)
        elif e in rule:
            out = rule[e]
        else:
            args = tuple(walk(a) for a in e.args)
            if not rebuild and all(a is b for a, b in zip(args, e.args)):
                out = e
            elif not evaluate and (e.is_Add or e.is_Mul):
                out = unevaluated(e.func, args)
            elif not evaluate and (e.is_Pow or isinstance(e, (sp.Function, sp.Max, sp.Min))):
                # Functions too: Abs(Out - Y) would otherwise query the sign of the whole tree.
                out = e.func(*args, evaluate=False)
            elif e.is_Mul or e.is_Add:
                out = (mul if e.is_Mul else add)(*args)  # SymPy's evaluated result, without its flatten where nothing combines
            else:
                out = e.func(*args)
        memo[id(e)] = (e, out)
        return out

    try:
        return walk(expr)
    finally:
        del walk  # the recursive closure refers to itself: freed now, not by the cyclic collector


def unevaluated(cls, args) -> sp.Expr:
    """``cls(*args, evaluate=False)`` for Add and Mul, without SymPy's per-argument checks: the node from
    its arguments as they stand, and the constructor postprocessors of any argument that has them (a
    matrix); a substitution rebuilds every path term of every weight this way."""
    obj = cls._from_args(args)
    name = cls.__name__
    for a in args:
        t = type(a)
        known = memo.process(memo.POSTPROCESSED)
        post = known.get((name, t))
        if post is None:
            post = known[(name, t)] = bool(_get_postprocessors(name, t))
        if post:
            return cls._exec_constructor_postprocessors(obj)
    return obj


def _with_args(node: sp.Basic, args) -> sp.Basic:
    """A copy of ``node`` whose arguments are ``args`` (equal to its own, as other objects), made without
    SymPy's constructors (which look the arguments up in SymPy's cache and may hand ``node`` back)."""
    cls = type(node)
    copy = object.__new__(cls)
    for klass in cls.__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if hasattr(node, slot):
                object.__setattr__(copy, slot, getattr(node, slot))
    if hasattr(node, "__dict__"):
        copy.__dict__.update(node.__dict__)
    copy._args = tuple(args)  # equal in value: the hash, assumptions and all else carry over
    return copy


def intern(expr: sp.Basic, table: dict, done: dict | None = None) -> sp.Basic:
    """``expr`` with every subtree replaced by the one equal subtree in ``table`` (added if new).

    Equal but distinct copies of a deep shared tree make every dict lookup and ``==`` compare node
    by node, which is exponential in depth on a DAG (a 20-step RNN's deltas never finished).
    Interned bottom-up, equal subtrees are the same object, so comparisons stop at identity.
    ``done`` (id -> (node, interned)) may be kept across calls, so shared subtrees are walked once.
    """

    def one(e: sp.Basic, args: list) -> sp.Basic:
        node = e
        if any(a is not b for a, b in zip(args, e.args)):
            if e.is_Add or e.is_Mul:
                node = e.func._from_args(tuple(args), e.is_commutative)
            else:
                node = e.func(*args, evaluate=False) if isinstance(e, (sp.Pow, sp.Function)) else e.func(*args)
                if any(a is not b for a, b in zip(node.args, args)):
                    # SymPy's cache (keyed by value) handed back an equal node built earlier from other
                    # objects (another network's): a table node whose arguments are not the table's
                    # breaks the identity checks below it (a second equal network's per-neuron direct
                    # form was never found). The same node with the table's arguments instead.
                    node = _with_args(node, args)
        return table.setdefault(node, node)

    return fold_by_id(expr, {} if done is None else done, one)


def canonical(expr: sp.Basic) -> sp.Basic:
    """``expr`` rebuilt with SymPy's evaluation (sorted, flattened, collected), for display.

    Results built unevaluated for speed print with nested parentheses; this is for the small ones
    that are shown in full. Each node's form is kept by the current owner (a derivation's checks and its
    display canonicalise the same sign(Out - Y) several times), by identity, the node kept beside it.
    """
    memo_ = memo.current(memo.CANONICAL).room()

    def walk(e: sp.Basic) -> sp.Basic:
        hit = memo_.get(id(e))
        if hit is None:
            if e.func is sp.sign:  # sign(Out - Y) as SymPy evaluates it, without its queries where they change nothing
                hit = memo_[id(e)] = (e, sign_of(walk(e.args[0])))
            else:
                hit = memo_[id(e)] = (e, e.func(*(walk(a) for a in e.args)) if e.args else e)
        return hit[1]

    try:
        return walk(expr)
    finally:
        del walk  # the recursive closure refers to itself: freed now, not by the cyclic collector


def product(factors) -> sp.Expr:
    """The product of ``factors``, unevaluated (ones dropped, a zero wins)."""
    # Unevaluated: SymPy's canonical sort of a product compares its (large) factors, which was
    # most of the time on big networks. Ones are dropped and a zero wins, so results read cleanly.
    kept = []
    for f in factors:
        if f is sp.S.Zero:
            return sp.S.Zero
        if f is not sp.S.One:
            kept.append(f)
    if not kept:
        return sp.S.One
    # _from_args builds the unevaluated product directly: the factors are SymPy objects already,
    # and every symbol is real, so commutative.
    return kept[0] if len(kept) == 1 else sp.Mul._from_args(kept, True)


def sum_of(terms) -> sp.Expr:
    """The sum of ``terms``, unevaluated (zeros dropped)."""
    kept = [t for t in terms if t is not sp.S.Zero]
    if not kept:
        return sp.S.Zero
    return kept[0] if len(kept) == 1 else sp.Add._from_args(kept, True)


def fold(expr: sp.Basic, memo: dict, value) -> object:
    """``value(node, [values of its args])`` for every node of ``expr`` not yet in ``memo``, children
    first, each shared subexpression once, without recursion (deep networks do not hit the limit)."""
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in memo:
            continue
        if ready or not e.args:
            memo[e] = value(e, [memo[a] for a in e.args])
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in memo)
    return memo[expr]


def fold_by_id(expr: sp.Basic, memo: dict, value) -> object:
    """:func:`fold` with ``memo`` keyed by identity (id -> (node, value)), the node kept alive beside its
    value: for a memo that outlives one network, where looking up an equal node of another network by
    value would compare the two trees node by node, written out."""
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in memo:
            continue
        if ready or not e.args:
            memo[id(e)] = (e, value(e, [memo[id(a)][1] for a in e.args]))
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in memo)
    return memo[id(expr)][1]


def dependency_masks(expr: sp.Basic, symbols) -> dict[sp.Basic, int]:
    """Each node of ``expr`` -> a bit mask of the ``symbols`` it contains (bit i for symbols[i])."""
    bit = {s: 1 << i for i, s in enumerate(symbols)}
    masks: dict[sp.Basic, int] = {}

    def mask(e, children):
        out = bit.get(e, 0)
        for m in children:
            out |= m
        return out

    fold(expr, masks, mask)
    return masks


def differentiate(expr: sp.Expr, x: sp.Basic, masks: dict[sp.Basic, int] | None = None, bit: int = 0) -> sp.Expr:
    """d expr / d x for real symbols, over shared subexpressions.

    ``masks`` and ``bit`` (from :func:`dependency_masks`, x's bit) let many derivatives of one
    expression skip finding out, each time, which subexpressions contain x. ``x`` may also be a
    subexpression of ``expr`` (a neuron's pre-activation): d expr/d x treating that node as a variable.
    """
    memo: dict[sp.Basic, sp.Expr] = {x: sp.S.One}
    derivatives = current(FUNCTION_DERIVATIVES).room()
    if masks is None:
        depends: dict[sp.Basic, bool] = {x: True}

        def has_x(e: sp.Basic) -> bool:
            hit = depends.get(e)
            if hit is None:
                hit = depends[e] = e == x if e.is_Symbol else any(has_x(a) for a in e.args)
            return hit
    elif 2 * bit.bit_length() > masks[expr].bit_length():
        # A high bit (a neuron's z among thousands of leaves): shifting leaves the few bits above it, where
        # ``masks[e] & bit`` would build an integer as long as the mask, for every node visited.
        shift = bit.bit_length() - 1

        def has_x(e: sp.Basic) -> bool:
            return (masks[e] >> shift) & 1
    else:
        def has_x(e: sp.Basic) -> bool:
            return masks[e] & bit

    def d(e: sp.Basic) -> sp.Expr:
        if not has_x(e):
            return sp.S.Zero
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            out = sp.S.One
        elif e.is_Add:
            out = sum_of([d(a) for a in e.args if has_x(a)])
        elif e.is_Mul:
            args = e.args
            dependent = [i for i, a in enumerate(args) if has_x(a)]
            if len(dependent) == 1:  # the usual case, W * H: one factor depends on x
                i = dependent[0]
                out = product(args[:i] + (d(args[i]),) + args[i + 1:])
            else:
                out = sum_of([product(args[:i] + (d(args[i]),) + args[i + 1:]) for i in dependent])
        elif e.is_Pow:
            base, ex = e.args
            if has_x(ex):
                out = e * (d(ex) * sp.log(base) + ex * d(base) / base)
            else:
                out = product([ex, _power(base, ex - 1), d(base)])
        elif (rule := rule_for(e)) is not None and rule.derivative is None:
            out = with_conventions(sp.diff(e, x))  # the rule asks for SymPy's own form (Max, Min)
        elif isinstance(e, sp.Function) or rule is not None:
            # The chain rule over the arguments; the table's derivative (|u|' = sign(u), sign' = 0,
            # else the class's fdiff), or fdiff for a function the table does not know. A zero
            # derivative (sign, Heaviside) skips differentiating its argument.
            terms = []
            for i, a in enumerate(e.args):
                if has_x(a):
                    f = _fdiff(e, i + 1, derivatives)
                    if f is not sp.S.Zero:
                        terms.append(product([f, d(a)]))
            out = sum_of(terms)
        else:
            out = with_conventions(sp.diff(e, x))  # anything else (Piecewise, ...): SymPy's own rules
        memo[e] = out
        return out

    try:
        return d(expr)
    finally:
        del d, has_x  # recursive closures refer to themselves (and hold the memo): freed now, not by the collector


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base ** exponent`` as SymPy evaluates it, built directly for a sum (holding the variable) to a rational
    power other than 0 and 1: there SymPy returns the plain power anyway, after asking whether the sum is a number
    or infinite, which walks the whole tree without its sharing (minutes for a second derivative of a deep network)."""
    if base.is_Add and exponent.is_Rational and exponent not in (sp.S.Zero, sp.S.One):
        return sp.Pow(base, exponent, evaluate=False)
    return base ** exponent


def with_conventions(expr: sp.Expr) -> sp.Expr:
    """``expr`` (a derivative SymPy took) with derivchain's rules where SymPy left its own: each node whose
    rule has a ``convention`` replaced by it (DiracDelta, the derivative of a jump, is 0), and each
    unevaluated ``Derivative`` (d/dp of Heaviside(x, p), which SymPy cannot take) taken by the rule table.

    So no form is printed or verified with a pending derivative or a delta function in it.
    """
    special = tuple(r.cls for r in RULES.values() if r.convention is not None)
    found = atoms_shared(expr, sp.Derivative, *special)
    if not found:
        return expr
    rule = {}
    for node in found:
        if isinstance(node, sp.Derivative):
            out = node.expr
            for v, count in node.variable_count:
                for _ in range(int(count)):
                    out = differentiate(out, v)
            rule[node] = with_conventions(out)
        else:
            rule[node] = rule_for(node).convention(node)
    return replace_shared(expr, rule)
