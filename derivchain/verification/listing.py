"""The paths of one parameter, each with its chain of partials verified: what ``derivchain paths`` prints."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from .. import memo
from ..engines.paths import DEFAULT_MAX_PATHS, PathListing
from ..engines.paths import list_paths as listed
from ..model.network import Network
from .chains import path_chain


def list_paths(network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathListing:
    """Count the paths of ``parameter``, list the first ``max_paths``, and verify each listed path's chain."""
    listing = listed(network, parameter, max_paths)
    with memo.working_for(network):
        return replace(listing, chains=tuple(path_chain(p) for p in listing.paths))
