"""Test setup: fixed terminal settings before typer/rich are imported, and shared helpers."""

import os

# typer and rich read these at import time: plain, wide, uncoloured output for assertions.
os.environ["NO_COLOR"] = "1"
os.environ["COLUMNS"] = "200"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ.pop("FORCE_COLOR", None)

import pytest  # noqa: E402

from derivchain.network import default_network  # noqa: E402


@pytest.fixture(scope="session")
def net():
    """The worked example's network."""
    return default_network()
