"""``@record``: a frozen dataclass whose methods are written once, here, instead of for every class.

``dataclass(frozen=True)`` writes the source of six methods for each class (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``) and compiles it: for the thirty classes a
gradient needs, some 15% of what a cold ``derivchain grad W1`` added to importing SymPy (issue 14).
A record is still a dataclass (``dataclasses.fields``, ``replace`` and ``asdict`` work), with the same
constructor (positional or keyword arguments, defaults, ``default_factory``, ``__post_init__``), the
same repr, equality and hash over the fields that take part in them, and fields that cannot be
assigned. Only the plain dataclass features derivchain uses are supported: no ``kw_only``,
``InitVar``, ``order`` or ``slots``.
"""

from __future__ import annotations

import dataclasses
import inspect
from operator import attrgetter

FrozenInstanceError = dataclasses.FrozenInstanceError


def record(cls=None, /, *, repr: bool = True):
    """``@dataclass(frozen=True, repr=repr)`` without code generation (see the module)."""

    def wrap(cls):
        # The fields only: with these flags dataclasses generates no code.
        cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        fields = dataclasses.fields(cls)
        own = cls.__dict__
        cls._record_plan = (
            tuple(f.name for f in fields if f.init),
            {f.name: f.default for f in fields if f.default is not dataclasses.MISSING},
            {f.name: f.default_factory for f in fields if f.default_factory is not dataclasses.MISSING},
            tuple(f.name for f in fields if not f.init),
            hasattr(cls, "__post_init__"),
        )
        cls._record_compared = staticmethod(_values([f.name for f in fields if f.compare]))
        cls._record_hashed = staticmethod(_values([f.name for f in fields if (f.compare if f.hash is None else f.hash)]))
        cls._record_shown = tuple(f.name for f in fields if f.repr)
        # As dataclass: a method the class writes itself is kept.
        for name, method in (("__init__", _init), ("__eq__", _eq), ("__repr__", _repr if repr else None),
                             ("__signature__", _SIGNATURE)):
            if method is not None and name not in own:
                setattr(cls, name, method)
        if "__hash__" not in own or (own["__hash__"] is None and "__eq__" in own):  # no hash of its own
            cls.__hash__ = _hash
        cls.__setattr__ = _setattr
        cls.__delattr__ = _delattr
        return cls

    return wrap if cls is None else wrap(cls)


def _init(self, *args, **kwargs):
    names, defaults, factories, uninit, post_init = self._record_plan
    if len(args) > len(names):
        raise TypeError(f"{type(self).__name__}() takes {len(names)} positional arguments but {len(args)} were given")
    put = object.__setattr__
    for name, value in zip(names, args):
        put(self, name, value)
    for name in names[len(args):]:
        if name in kwargs:
            put(self, name, kwargs.pop(name))
        elif name in defaults:
            put(self, name, defaults[name])
        elif name in factories:
            put(self, name, factories[name]())
        else:
            raise TypeError(f"{type(self).__name__}() missing required argument: {name!r}")
    for name in uninit:  # field(init=False): its default, if it has one
        if name in defaults or name in factories:
            put(self, name, defaults[name] if name in defaults else factories[name]())
    if kwargs:
        raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if post_init:
        self.__post_init__()


def _values(names: list[str]):
    """obj -> the tuple of its fields ``names`` (attrgetter: in C, as fast as the generated methods)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _eq(self, other):
    if other.__class__ is self.__class__:
        return self._record_compared(self) == self._record_compared(other)
    return NotImplemented


def _hash(self):
    return hash(self._record_hashed(self))


def _repr(self):
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._record_shown)
    return f"{type(self).__qualname__}({shown})"


def _setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


class _Signature:
    """``inspect.signature(cls)``: the fields as the constructor's parameters, built when asked for."""

    def __get__(self, instance, owner):
        if instance is not None or owner.__init__ is not _init:  # a class's own __init__ speaks for itself
            raise AttributeError("__signature__")
        params = []
        for f in dataclasses.fields(owner):
            if not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else (
                _FACTORY if f.default_factory is not dataclasses.MISSING else inspect.Parameter.empty)
            params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=f.type))
        return inspect.Signature(params, return_annotation=None)  # as the generated __init__ reads


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"  # as dataclasses shows a default_factory


_SIGNATURE, _FACTORY = _Signature(), _Factory()
