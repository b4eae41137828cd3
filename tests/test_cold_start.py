"""What the cold-start work (issue 14) replaced behaves as what it replaced: records as frozen
dataclasses, the polynomial proof as ``expand(a - b) == 0``, ``sign_of`` as ``sp.sign``."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import sympy as sp

from derivchain.symbolic.polynomial import expands_to_zero
from derivchain.record import record
from derivchain.symbolic.rules import sign_of

x, y, z = sp.symbols("x y z", real=True)
w = sp.Symbol("w")  # no assumptions: not real


@record
class _Point:
    """A record under test."""

    x: int
    y: int = 0
    tags: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.x < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True)
class _Reference:
    """The same as a frozen dataclass."""

    x: int
    y: int = 0
    tags: dict = dataclasses.field(default_factory=dict, compare=False)


def test_a_record_is_a_frozen_dataclass():
    p = _Point(1, y=2)
    assert repr(p) == "_Point(x=1, y=2, tags={})" and repr(_Reference(1, 2)) == "_Reference(x=1, y=2, tags={})"
    assert p == _Point(1, 2, {"a": 1}) and p != _Point(1, 3) and hash(p) == hash(_Reference(1, 2))
    assert p != _Reference(1, 2) and _Point(1).tags is not _Point(1).tags
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags"] and dataclasses.is_dataclass(p)
    assert dataclasses.replace(p, y=5) == _Point(1, 5) and dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": {}}
    assert str(inspect.signature(_Point)) == str(inspect.signature(_Reference))
    assert _Point.__match_args__ == ("x", "y", "tags")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.y
    with pytest.raises(ValueError):
        _Point(-1)
    with pytest.raises(TypeError):
        _Point()
    with pytest.raises(TypeError):
        _Point(1, 2, {}, 4)
    with pytest.raises(TypeError):
        _Point(1, q=2)


@pytest.mark.parametrize("a, b", [
    ((x + y) ** 2, x**2 + 2 * x * y + y**2),
    ((x + y) ** 2, x**2 + y**2),
    (sp.sign(x - y) * (x + y), x * sp.sign(x - y) + y * sp.sign(x - y)),
    (sp.sign(sp.Add(x, -y, evaluate=False)) * 2, 2 * sp.sign(x - y)),  # one unknown, however written
    (sp.Mul(x, sp.Add(y, z, evaluate=False), evaluate=False), x * y + x * z),
    (x / 2 + x / 3, 5 * x / 6),
    (sp.exp(x) * sp.exp(-x), sp.Integer(1)),  # not polynomial in exp's values: expand decides
    (1 / x + 1 / x, 2 / x),
    (sp.Float(0.5) * x, x / 2),
    (sp.Max(x, y) + 1, 1 + sp.Max(y, x)),
    (sp.sign(x) ** 2, sp.Integer(1)),  # sign(0) = 0: not an identity
])
def test_the_polynomial_proof_agrees_with_expand(a, b):
    assert expands_to_zero(a, b) == (sp.expand(a - b) == 0)


@pytest.mark.parametrize("u", [x - y, -x + y, 2 * x - 3 * y + z, x + y**2, x * y, -x, x - x * y, x + w, w - 1,
                               x**2 + 1, -(x**2) - 1, sp.Integer(0), sp.Integer(-3), sp.I * x, x + sp.I])
def test_sign_of_is_sympys_sign(u):
    assert sign_of(u) == sp.sign(u) and type(sign_of(u)) is type(sp.sign(u))
