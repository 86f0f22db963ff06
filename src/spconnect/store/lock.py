"""The per-profile refresh lock: one process (and one thread) refreshes, the rest wait.

Standard library only, because the ``spconnect token`` fast path takes this lock before it
imports anything heavy (design, "Cross-process refresh"; issue 7, "lock first, keyring
last"): fifty processes that find the cache stale queue here, and only the holder opens
the keyring and calls Amazon. ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows; both
are released by the operating system when the holder dies, even by ``kill -9``, so a
crashed refresh never leaves a stale lock behind.

Within one process the lock is re-entrant (the fast path takes it, then hands over to
``tokens.access_token``, which takes it again) and thread-safe (the Python API may be
called from many threads): a per-path ``threading.RLock`` orders the threads, and only the
outermost acquisition touches the file.
"""

from __future__ import annotations

import os
import sys
import time

from spconnect.errors import AmazonUnavailable, StorageUnavailable
from spconnect.store import files

# Longer than one whole LWA call may take (amazon/lwa.py bounds it), so that a waiter gives
# up only when the holder is truly stuck.
LOCK_TIMEOUT_SECONDS = 90.0
# How long a waiter polls before trying again: short first, so a refresh that takes one
# LWA round trip (tens of ms) is noticed at once, longer later so that fifty waiters do
# not keep two cores busy while one holder works.
_FIRST_POLL = 0.002
_MAX_POLL = 0.05


class LockTimeout(AmazonUnavailable):
    """The lock stayed held by another process for longer than the caller would wait.

    Exit 6: the holder is almost always a refresh still waiting on Amazon.
    """

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(
            f"another spconnect process has been refreshing the token of {what} for over "
            f"{timeout:g} s",
            "it may be stuck waiting on Amazon; try again (the lock is released when that "
            "process ends, even if it is killed)",
        )


class _Held:
    __slots__ = ("count", "fd", "guard")

    def __init__(self) -> None:
        import threading

        self.guard = threading.RLock()
        self.count = 0
        self.fd = -1


_held: dict[str, _Held] = {}


def _state(path: str) -> _Held:
    # dict.setdefault is atomic under the GIL: two threads get the same _Held.
    return _held.setdefault(path, _Held())


def _open(path: str) -> int:
    # O_NOFOLLOW: a lock path that another user turned into a symlink is not followed.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        files.ensure_private_dir(os.path.dirname(path))
        return os.open(path, flags, files.PRIVATE_FILE_MODE)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot use the lock file {path}: {exc.strerror or exc}",
            f"check the permissions of {os.path.dirname(path)}, or remove what is in the way",
        ) from None


if sys.platform == "win32":  # pragma: no cover - Windows cannot run here
    import msvcrt

    def _try_lock(fd: int) -> bool:
        # msvcrt locks bytes from the current position: always the first byte.
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class RefreshLock:
    """``with RefreshLock(path, timeout):`` holds the lock file ``path`` exclusively."""

    def __init__(self, path: str, timeout: float = LOCK_TIMEOUT_SECONDS, what: str = "") -> None:
        self.path = os.path.abspath(path)
        self.timeout = timeout
        self.what = what or os.path.basename(path)

    def acquire(self) -> None:
        state = _state(self.path)
        deadline = time.monotonic() + self.timeout
        if not state.guard.acquire(timeout=max(0.0, self.timeout)):
            raise LockTimeout(self.what, self.timeout)
        if state.count:
            state.count += 1  # this thread already holds the file lock
            return
        try:
            fd = _open(self.path)
        except BaseException:
            state.guard.release()
            raise
        poll = _FIRST_POLL
        while not _try_lock(fd):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.close(fd)
                state.guard.release()
                raise LockTimeout(self.what, self.timeout)
            time.sleep(min(poll, remaining))
            poll = min(poll * 2, _MAX_POLL)
        state.fd = fd
        state.count = 1

    def release(self) -> None:
        state = _state(self.path)
        state.count -= 1
        if state.count == 0:
            fd, state.fd = state.fd, -1
            try:
                _unlock(fd)
            finally:
                os.close(fd)
        state.guard.release()

    def __enter__(self) -> RefreshLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
