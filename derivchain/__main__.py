"""``python -m derivchain``."""

from .cli import main

main()
