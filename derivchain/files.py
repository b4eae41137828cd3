"""Writing files so that nothing is lost: every target checked first, written whole or not at all.

Each file is written to a temporary file in its own folder, then renamed over the target (a reader
never sees half a file). A link at the target is replaced itself, never followed. When one of
several files fails, the ones already in place are put back as they were. New files get the
permissions the umask allows (like any program's), not a temporary file's 0600; a replaced file keeps
its own (a private 0600 file stays private).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import DerivchainError
from .user_text import clean


class ExportError(DerivchainError):
    """A file that may not or cannot be written (it exists, a folder is missing, the disk is full), or a
    document that cannot be compiled."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


#: The longest file name, in bytes (Linux's, macOS's and Windows' file systems: 255).
NAME_BYTES = 255


def check_targets(paths, force: bool = False) -> None:
    """Refuse before anything is written: an existing file without ``force``, a folder, a missing folder,
    a name too long for the file system."""
    for path in map(Path, paths):
        if "\x00" in str(path):  # no file system takes it (os.stat would raise ValueError)
            raise ExportError(f"{clean(str(path))[:200]}: a file name cannot hold a NUL character; give another name")
        size = len(os.fsencode(path.name))
        if size > NAME_BYTES:
            raise ExportError(f"{path.name[:40]}...: the file name is {size} bytes long, more than the {NAME_BYTES} "
                              "a file system allows; give a shorter name")
        try:
            _check_target(path, force)
        except OSError as exc:  # a path too long as a whole, a folder that cannot be read
            raise ExportError(f"cannot write {str(path)[:200]}: {exc.strerror or exc}") from None


def _check_target(path: Path, force: bool) -> None:
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
            # Named after the target when that fits (.NAME.XXXXXXXX.tmp, and .old for the backup), else generically.
            fits = len(os.fsencode(path.name)) <= NAME_BYTES - len("..XXXXXXXX.tmp.old")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}." if fits else ".derivchain.", suffix=".tmp", dir=path.parent)
            temps[path] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, _mode_of(path, mode))
    except OSError as exc:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}; nothing was changed") from None
    _commit(temps)
    return list(files)


def _mode_of(path: Path, default: int) -> int:
    """The permissions of the regular file at ``path`` (replaced, it keeps them), else ``default``."""
    try:
        found = os.lstat(path)
    except OSError:
        return default
    return stat.S_IMODE(found.st_mode) if stat.S_ISREG(found.st_mode) else default


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
