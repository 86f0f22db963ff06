"""Private, atomic file writes: directories 0700, files 0600, temp file + ``os.replace``
so that a crash mid-write leaves the previous file whole (design, "Security rules")."""

from __future__ import annotations

import contextlib
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from filelock import FileLock

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: str) -> None:
    """Create ``path`` as 0700, and any missing parents as 0700 too (``os.makedirs``
    applies the mode to the last one only); tighten ``path`` if it has wider bits.
    Parents that already exist are left alone: they are not spconnect's.

    An existing ``path`` is used only if it is ours (issue 8): a symbolic link, or a
    directory owned by another user, is refused with exit 7 rather than followed and
    chmod-ed (as root, following another user's link could open up any directory). The
    one exception is a link to a directory of our own outside the cache (a dotfiles
    manager's link for the config directory, say); the cache, which holds tokens, must be
    real directories, as the token fast path requires (store/cache.py).
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        ensure_private_dir(parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR_MODE)
    _refuse_foreign_dir(path)
    current = stat.S_IMODE(os.stat(path).st_mode)
    if current & 0o077:
        os.chmod(path, PRIVATE_DIR_MODE)


def _refuse_foreign_dir(path: str) -> None:
    if os.name != "posix":  # pragma: no cover - Windows: the profile directory's ACL
        return
    from spconnect.errors import StorageUnavailable

    link = os.lstat(path)
    target = os.stat(path)
    mine = os.geteuid()
    if stat.S_ISLNK(link.st_mode):
        from spconnect.store import paths

        in_cache = os.path.commonpath([path, os.path.abspath(paths.cache_dir())]) == (
            os.path.abspath(paths.cache_dir())
        )
        if in_cache or link.st_uid != mine or target.st_uid != mine:
            raise StorageUnavailable(
                f"refusing to use {path}: it is a symbolic link"
                + ("" if in_cache else " to a directory of another user"),
                "remove the link; spconnect creates its own private directory there",
            )
    if not stat.S_ISDIR(target.st_mode) or target.st_uid != mine:
        raise StorageUnavailable(
            f"refusing to use {path}: it is not a directory owned by this user",
            "remove or move it; spconnect creates its own private directory there",
        )


def private_lock(path: str, timeout: float) -> FileLock:
    """An inter-process lock file, 0600 in a 0700 directory."""
    from filelock import FileLock

    ensure_private_dir(os.path.dirname(os.path.abspath(path)))
    return FileLock(path, timeout=timeout, mode=PRIVATE_FILE_MODE)


def write_private(path: str, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, mode 0600, in a 0700 directory."""
    directory = os.path.dirname(os.path.abspath(path))
    ensure_private_dir(directory)
    base = os.path.basename(path)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # O_EXCL + mode 0600 from the start: the data is never readable by others, not even
    # for the instant between creation and a chmod.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_file(path: str) -> bool:
    """Delete ``path`` if it exists; returns whether something was deleted."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
