"""Typed errors: each carries a one-line message that names the problem and the valid choices."""

from __future__ import annotations


class DerivchainError(ValueError):
    """Base of every error derivchain raises on bad input; the CLI turns it into exit code 2."""

    exit_code = 2


class LayersError(DerivchainError):
    """A layer specification such as ``2,,1`` that is not a list of positive integers."""


class UnknownActivationError(DerivchainError):
    """An activation name that is not in the registry."""


class UnknownLossError(DerivchainError):
    """A loss name that is not in the registry."""


class UnknownParameterError(DerivchainError):
    """A weight or bias name that the network does not have."""


def choices(names) -> str:
    """Format valid choices for an error message: ``a, b, c``."""
    return ", ".join(names)


class ExpressionError(DerivchainError):
    """A user expression outside the whitelist, too long, too deep, or with a huge exponent."""


class NetworkFileError(DerivchainError):
    """A network file that cannot be read or does not describe a valid network."""


class UnknownNotationError(DerivchainError):
    """A notation name other than flat or layered."""


class LimitError(DerivchainError):
    """A size past one of derivchain's limits (see :mod:`derivchain.limits`)."""


class EvaluationError(DerivchainError):
    """Values at which an expression is undefined (log(0), 1/0) or not real."""


class LayersLimitError(LayersError, LimitError):
    """A ``--layers`` specification past a size limit."""
