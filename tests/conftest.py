"""Test setup: fixed terminal settings before typer/rich are imported, and shared helpers."""

import os

# typer and rich read these at import time: plain, wide, uncoloured output for assertions.
os.environ["NO_COLOR"] = "1"
os.environ["COLUMNS"] = "200"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ.pop("FORCE_COLOR", None)

import pytest  # noqa: E402

try:  # the property and fuzz tests draw the same examples every run: CI is not a lottery
    from hypothesis import settings

    settings.register_profile("derivchain", derandomize=True, database=None)
    settings.load_profile("derivchain")
except ImportError:
    pass

from derivchain.model.network import default_network  # noqa: E402


@pytest.fixture(scope="session")
def net():
    """The worked example's network."""
    return default_network()
