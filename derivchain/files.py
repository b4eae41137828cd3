"""Writing files so that nothing is lost: every target checked first, written whole or not at all.

Each file is written to a temporary file in its own folder, then renamed over the target (a reader
never sees half a file). A link at the target is replaced itself, never followed. When one of
several files fails, the ones already in place are put back as they were. New files get the
permissions the umask allows (like any program's), not a temporary file's 0600.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import DerivchainError


class ExportError(DerivchainError):
    """A file that may not or cannot be written (it exists, a folder is missing, the disk is full), or a
    document that cannot be compiled."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_targets(paths, force: bool = False) -> None:
    """Refuse before anything is written: an existing file without ``force``, a folder, a missing folder."""
    for path in map(Path, paths):
        if path.is_dir() and not path.is_symlink():
            raise ExportError(f"{path} is a folder; give a file name")
        if os.path.lexists(path) and not force:
            raise ExportError(f"{path} already exists; pass --force to replace it")
        folder = path.parent
        if not folder.is_dir():
            raise ExportError(f"{folder} is not a folder; create it first")


def write_files(files: dict, force: bool = False) -> list[Path]:
    """Write each ``{path: text or bytes}`` whole, all or none; the paths written."""
    files = {Path(p): data for p, data in files.items()}
    check_targets(files, force)
    mode = _umask_mode()
    temps: dict[Path, str] = {}
    try:
        for path, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps[path] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
    except OSError as exc:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}; nothing was changed") from None
    _commit(temps)
    return list(files)


def _commit(temps: dict[Path, str]) -> None:
    # Keep a hard link to each old file (or link) so a failure can put it back; then rename the new one
    # into place (atomic; a link at the target is replaced, not followed).
    backups: dict[Path, str | None] = {}
    done: list[Path] = []
    try:
        for path, tmp in temps.items():
            backup = None
            if os.path.lexists(path):
                backup = f"{tmp}.old"
                os.link(path, backup, follow_symlinks=False)
            backups[path] = backup
            os.replace(tmp, path)
            done.append(path)
    except OSError as exc:
        for path in reversed(done):
            if backups[path] is not None:
                os.replace(backups[path], path)
            else:
                Path(path).unlink(missing_ok=True)
        for path, tmp in temps.items():
            Path(tmp).unlink(missing_ok=True)
            if path not in done and backups.get(path):
                Path(backups[path]).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}; every file was left as it was") from None
    for backup in backups.values():
        if backup is not None:
            Path(backup).unlink(missing_ok=True)
