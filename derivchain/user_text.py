"""The front door for text from users: files read within a size limit, free text cleaned of control
characters. Where text goes next it is escaped for that place (LaTeX, Markdown/HTML) by its renderer.
"""

from __future__ import annotations

import os
import re
import stat
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from . import limits
from .errors import LimitError

# C0 and C1 control characters (ANSI escape sequences start with one), DEL, and the Unicode line and
# paragraph separators and bidirectional overrides, which can make text display other than it reads.
# A pattern, compiled by ``re`` on first use and cached there: messages and files need it, a plain
# ``derivchain grad`` does not (compiling it was a measurable part of its cold start).
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"


def clean(text: str) -> str:
    """``text`` with every control character replaced by a space: safe on a terminal, one line."""
    return re.sub(_CONTROL, " ", text)


def clean_lines(text: str) -> str:
    """``text`` cleaned as by :func:`clean` line by line: its line breaks kept, nothing else that does not print."""
    return text if text.isprintable() else "\n".join(clean(line) for line in text.split("\n"))


def shown(text: str) -> str:
    """``text`` with every character that does not print written as its escape (``\\x1b``, ``\\n``,
    ``\\u202e``), the rest as it is: a file name echoed on a terminal, safely and recognisably."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_limited(path: str | Path, label: str, error: type[Exception]) -> bytes:
    """The bytes of a regular file of at most the ``file_bytes`` limit; ``error`` (one line) for anything
    else: a folder, a FIFO, a device or a socket is refused at once (reading one could wait forever)."""
    path = Path(path)
    limit = limits.current().file_bytes
    if "\x00" in str(path):  # a NUL in the name (from Python: a command line cannot hold one); os.stat raises ValueError
        raise error(f"{clean(label)}: a file name cannot hold a NUL character")
    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise error(f"{label}: is {kind}, not a file")
        # Opened without waiting (a FIFO put there since the check would block) and checked again.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            kind = _kind(os.fstat(f.fileno()).st_mode)
            if kind is not None:
                raise error(f"{label}: is {kind}, not a file")
            raw = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise error(f"{label}: the file is larger than {limit} bytes (the file_bytes limit); is it the right file?")
    return raw


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is (``a folder``, ``a FIFO``, ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a special file")


def parse_number(raw, name: str, where: str, error: type[Exception]) -> Fraction:
    """An exact number (``0.15`` is 3/20, ``1/3``) from text or a parsed file value, within the value limits;
    ``error`` (one line, naming ``where`` and ``name``) for anything else."""
    at = clean(str(name))[:40] if where == name else f"{where}: {clean(str(name))[:40]}"  # --l2 = 'abc', once
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal, Fraction)):
        raise error(f"{at} = {clean(repr(raw))[:40]} is not a number")
    if isinstance(raw, Fraction):
        return raw
    if isinstance(raw, int) and raw.bit_length() > 4 * limits.current().value_digits:
        raise LimitError(f"{at} has more than {limits.current().value_digits} digits "
                         "(the value_digits limit; raise it with --limit value_digits=N)")
    text = str(raw).strip()
    if not text.isascii():  # Decimal reads fullwidth and other scripts' digits as ASCII ones: refused, not guessed
        char = next(c for c in text if not c.isascii())
        raise error(f"{at} = {clean(repr(raw))[:40]} is not a number: {char!r} (U+{ord(char):04X}) is not ASCII; "
                    "write numbers in ASCII digits")
    if len(text) > 2 * limits.current().value_digits + 20:
        raise LimitError(f"{at} = {clean(text)[:20]}... has more than {limits.current().value_digits} digits "
                         f"(the value_digits limit; raise it with --limit value_digits=N)")
    try:
        decimal = Decimal(text)
        if decimal.is_finite():
            # Checked before the exact value is built: 1e999999999 would be a billion-digit integer.
            sign, digits, exponent = decimal.as_tuple()
            if abs(exponent + len(digits)) > limits.current().value_exponent:
                raise LimitError(f"{at} = {clean(text)[:20]} is too large or too small: its decimal "
                                 f"exponent is past +-{limits.current().value_exponent} (the value_exponent limit)")
            if len(digits) > limits.current().value_digits:
                raise LimitError(f"{at} has {len(digits)} significant digits, more than "
                                 f"{limits.current().value_digits} (the value_digits limit; raise it with --limit value_digits=N)")
        value = Fraction(decimal)
    except LimitError:
        raise
    except (InvalidOperation, ValueError, ZeroDivisionError, OverflowError):
        if isinstance(raw, str) and "/" in raw and len(text) <= 2 * limits.current().value_digits + 1:
            try:
                return Fraction(text)
            except (ValueError, ZeroDivisionError):
                pass
        raise error(f"{at} = {clean(repr(raw))[:40]} is not a number "
                          "(NaN and infinity are not allowed either)") from None
    return value
