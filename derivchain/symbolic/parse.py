"""A whitelist parser for user expressions: never ``eval``, ``sympify`` or ``parse_expr``.

The text is parsed by :func:`ast.parse` and walked node by node; only numbers, the documented
symbol names, ``+ - * / **`` and a fixed set of functions are accepted, and SymPy objects are built
directly. Length, nesting and exponents are bounded, so no input can hang the parser.
"""

from __future__ import annotations

import ast
from fractions import Fraction

import sympy as sp

from ..errors import ExpressionError
from .rules import CALLABLE as _RULES, CONSTANTS, DOCUMENTED as _DOCUMENTED, PARSER_FUNCTIONS

MAX_LENGTH = 500
MAX_DEPTH = 40
MAX_EXPONENT = 64
MAX_DIGITS = 30
MAX_BITS = 4096  # largest numerator or denominator an exact number may reach while parsing

#: The functions a user expression may call, by the name it uses: the rules table's index, kept in
#: step with it as functions are registered (so are ``_RULES``, each callable rule by the name a user
#: writes and the name SymPy prints, and ``_DOCUMENTED``, the names error messages list).
FUNCTIONS = PARSER_FUNCTIONS
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def parse_expression(text: str, symbols: dict[str, sp.Symbol], what: str, max_length: int | None = MAX_LENGTH) -> sp.Expr:
    """Parse ``text`` into a SymPy expression over ``symbols``; ``what`` names it in errors.

    ``max_length`` bounds user input; reading back derivchain's own printed output, None lifts it
    (the nesting bound stays).
    """
    names = ", ".join(symbols)
    tree = _syntax_tree(text, what, max_length)

    def fail(node, problem: str):
        raise ExpressionError(
            f"{what}: {problem} in {text!r}; allowed are numbers, the names {names}, + - * / **, "
            f"and the functions {', '.join(_DOCUMENTED)}"
        )

    def bounded(value: sp.Expr) -> sp.Expr:
        if value.is_Rational and max(abs(int(value.p)).bit_length(), int(value.q).bit_length()) > MAX_BITS:
            raise ExpressionError(f"{what}: {text!r} produces a number with more than {MAX_BITS} bits")
        return value

    def towered(value: sp.Expr, made: str = "multiply to") -> sp.Expr:
        # SymPy multiplies the exponents of a tower out: ((x**64)**64)**64 is x**262144, whose derivatives and
        # expansions take hours. The powers written are bounded, and so are the powers they make.
        for p in value.atoms(sp.Pow):
            if p.exp.is_Number and abs(p.exp) > MAX_EXPONENT:
                raise ExpressionError(f"{what}: the powers in {text!r} {made} an exponent of {p.exp}, larger than "
                                      f"{MAX_EXPONENT}; write the power once, at most **{MAX_EXPONENT}")
        return value

    def combine(node, op, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        if isinstance(op, ast.Add):
            return bounded(left + right)
        if isinstance(op, ast.Sub):
            return bounded(left - right)
        # A product adds the exponents of a name's powers (x**64*x**64 is x**128): bounded as a tower is, now
        # that a flat product is one nesting level (the depth bound no longer stops a long one).
        if isinstance(op, ast.Mult):
            return towered(bounded(left * right), "add up to")
        if right == 0:
            fail(node, "division by zero")
        return towered(bounded(left / right), "add up to")

    def build(node, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"{what}: {text!r} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                fail(node, f"the constant {value!r} is not a number")
            digits = ast.get_source_segment(text.strip(), node) or repr(value)
            if len(digits) > MAX_DIGITS:
                raise ExpressionError(f"{what}: the number {digits[:20]}... has more than {MAX_DIGITS} characters")
            if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
                fail(node, "a non-finite number")
            return sp.Integer(value) if isinstance(value, int) else sp.Rational(Fraction(digits.replace("_", "")))
        if isinstance(node, ast.Name):
            if node.id not in symbols:
                if node.id in CONSTANTS:  # pi, E as derived forms print them; a name of the expression's own comes first
                    return CONSTANTS[node.id]
                if node.id in FUNCTIONS:
                    fail(node, f"the function {node.id!r} is used without arguments")
                fail(node, f"unknown name {node.id!r}")
            return symbols[node.id]
        if isinstance(node, ast.Subscript):  # an entry of a matrix graph, X[0,1]: a symbol of its own
            name = entry_name(node)
            if name is None or name not in symbols:
                fail(node, f"the subscript {ast.unparse(node)!r} (entries NAME[i,j] are names of matrix graphs only)")
            return symbols[name]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand, depth + 1)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            # a + b + c is ((a + b) + c) to Python: a flat sum (or product) is one level, not one per term.
            chain = _flat(node)
            value = build(chain[0][1], depth + 1)
            for op, operand in chain[1:]:
                value = combine(node, op, value, build(operand, depth + 1))
            return value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = build(node.left, depth + 1)
            right = build(node.right, depth + 1)
            # Powers: a numeric exponent must be small; a symbolic one must not sit on a number
            # tower (9**9**9 would otherwise be computed exactly).
            if right.is_Number:
                if abs(right) > MAX_EXPONENT:
                    raise ExpressionError(f"{what}: exponent {right} in {text!r} is larger than {MAX_EXPONENT}")
                if left.is_Rational and right.is_Integer:
                    # Size of the exact result before computing it.
                    bits = max(abs(int(left.p)).bit_length(), int(left.q).bit_length()) * abs(int(right))
                    if bits > MAX_BITS:
                        raise ExpressionError(f"{what}: {text!r} produces a number with more than {MAX_BITS} bits")
            elif not right.free_symbols:
                fail(node, "a numeric exponent that is not a plain number")
            return towered(bounded(left**right))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                fail(node, f"the call {called}(...) is not allowed")
            if node.keywords:
                fail(node, "keyword arguments")
            check_arity(node.func.id, len(node.args), what, text)
            return FUNCTIONS[node.func.id](*(build(a, depth + 1) for a in node.args))
        fail(node, f"the construct {type(node).__name__!r} ({ast.unparse(node)!r}) is not allowed")

    return build(tree.body, 0)


def _flat(node: ast.BinOp) -> list[tuple[ast.operator | None, ast.expr]]:
    """The operands of a chain of ``+ -`` (or of ``* /``) read left to right, each with the operator
    before it (None before the first); walked without recursion, so a long sum costs no depth."""
    group = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
    chain = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, group):
        chain.append((node.op, node.right))
        node = node.left
    chain.append((None, node))
    return chain[::-1]


def entry_name(node: ast.Subscript) -> str | None:
    """``X[0,1]`` for the subscript X[0,1] (a name and two whole numbers), the name of a matrix entry's
    symbol; None for any other subscript."""
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else []
    if (isinstance(node.value, ast.Name) and len(parts) == 2
            and all(isinstance(p, ast.Constant) and type(p.value) is int and p.value >= 0 for p in parts)):
        return f"{node.value.id}[{parts[0].value},{parts[1].value}]"
    return None


def expression_names(text: str, what: str, max_length: int | None = MAX_LENGTH) -> list[str]:
    """The names ``text`` reads (not the functions it calls), in order of first appearance; syntax and
    length checked as by :func:`parse_expression`, so a file can tell its inputs from its parameters
    before building the expression."""
    tree = _syntax_tree(text, what, max_length)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called and n.id not in FUNCTIONS]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in found))


def _control_at(text: str) -> int | None:
    """The index of the first character of ``text`` that does not print (a line break, a tab, a control
    character, a bidirectional override), or None."""
    if text.isprintable():
        return None
    return next(i for i, c in enumerate(text) if not c.isprintable())


def _syntax_tree(text: str, what: str, max_length: int | None) -> ast.Expression:
    """``text`` parsed by :func:`ast.parse` after the type and length checks, or a one-line error."""
    if not isinstance(text, str):
        raise ExpressionError(f"{what}: expected text, got {type(text).__name__}")
    if max_length is not None and len(text) > max_length:
        raise ExpressionError(f"{what}: expression is {len(text)} characters long; at most {max_length} are allowed")
    bad = _control_at(text)
    if bad is not None:
        # A line break or a control character would reach the terminal and the documents raw (a new line
        # there can start a Markdown heading); Python's parser would also skip a ``#`` comment after it.
        raise ExpressionError(f"{what}: character {bad + 1} of the expression ({text[bad]!r}) does not print (a line "
                              "break, a tab or a control character); write the expression on one line")
    stripped = text.strip()
    if not stripped:
        raise ExpressionError(f"{what}: the expression is empty; write one, e.g. 'w*x + b' or 'sigmoid(z)'")
    if not stripped.isascii():
        # Python reads a fullwidth x as x (NFKC) and some non-ASCII digits as digits: refused, not guessed.
        at, char = next((i, c) for i, c in enumerate(stripped, start=1) if not c.isascii())
        raise ExpressionError(f"{what}: {char!r} (U+{ord(char):04X}) at character {at} is not ASCII; write names "
                              "and numbers in ASCII letters and digits, and operators as + - * / **")
    try:
        return ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        # Python reports a missing operand at the end as offset 0; a 1-based column otherwise.
        at = (f"at character {exc.offset} ({stripped[exc.offset - 1:exc.offset + 9]!r})"
              if exc.offset and exc.offset <= len(stripped) else "at the end: something is missing")
        raise ExpressionError(f"{what}: {text!r} is not a valid expression ({exc.msg} {at})") from None


def check_arity(name: str, given: int, what: str, text: str, argument: str = "u") -> None:
    """Refuse ``given`` arguments to the function ``name`` where its rule takes another number (a function
    without a rule, such as sqrt, takes one), naming how many it takes and how to write it."""
    rule = _RULES.get(name)
    least = rule.arity if rule is not None else 1
    most = rule.max_arity if rule is not None else least
    if given < least or (most is not None and given > most):
        count = str(least) if most == least else f"{least} or more" if most is None else f"{least} or {most}"
        usage = rule.usage if rule is not None else f"{name}({argument})"
        raise ExpressionError(f"{what}: {name}() takes {count} argument{'s' if most != 1 else ''}, "
                              f"got {given} in {text!r}; write {usage}")
