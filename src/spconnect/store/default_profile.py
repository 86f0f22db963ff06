"""The default profile that ``spconnect switch NAME`` sets (issue 9, item 15).

Which profile a command uses, most specific first: ``-p NAME`` (before or after the
command), then ``$SPCONNECT_PROFILE``, then the switched default, then ``default`` (as gh
does with its flag, ``GH_HOST`` and ``gh auth switch``). The switched default lives in
its own one-line file beside config.toml and nowhere else: the token fast path reads it
with one ``open()``, without TOML (``tomllib`` imports ``re``, which that path avoids).

Standard library only and no ``re``: this module is on the fast path (entry.py).
"""

from __future__ import annotations

import os

from spconnect.names import is_profile_name
from spconnect.store import paths

FILE_NAME = "default-profile"
ENVIRONMENT_VARIABLE = "SPCONNECT_PROFILE"
BUILTIN = "default"
# A profile name is at most 64 characters (names.py); anything much longer is not ours.
_MAX_BYTES = 256

# Where a command's profile came from, for messages and `status`.
FROM_OPTION = "option"
FROM_ENVIRONMENT = "environment"
FROM_SWITCH = "switch"
FROM_BUILTIN = "builtin"


class MalformedDefault(ValueError):
    """The file exists but does not hold one profile name."""


def path() -> str:
    return os.path.join(paths.config_dir(), FILE_NAME)


def switched() -> str | None:
    """The profile ``spconnect switch`` set, or None; MalformedDefault if the file holds
    anything but a profile name (a hand edit gone wrong: said, never guessed at),
    UsageError if it cannot be read."""
    try:
        with open(path(), "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        # No permission, an I/O error: exit 2 naming the file, as config.toml's problems
        # are (store/config.py), never a traceback.
        from spconnect.errors import UsageError

        raise UsageError(
            f"cannot read {path()}: {exc.strerror or exc}", "check the file and its permissions"
        ) from None
    try:
        name = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        name = ""
    if len(data) > _MAX_BYTES or not is_profile_name(name):
        raise MalformedDefault(f"{path()} does not hold a profile name")
    return name


def resolve(option: str | None = None) -> tuple[str, str]:
    """The profile to use and where that came from (one of the FROM_* values)."""
    if option:
        return option, FROM_OPTION
    from_environment = os.environ.get(ENVIRONMENT_VARIABLE)
    if from_environment:
        return from_environment, FROM_ENVIRONMENT
    name = switched()
    if name is not None:
        return name, FROM_SWITCH
    return BUILTIN, FROM_BUILTIN


def write(name: str) -> None:
    """Make ``name`` the default profile: 0600, atomic (store/files.py)."""
    from spconnect.store import files

    files.write_private(path(), (name + "\n").encode("utf-8"))


def clear() -> bool:
    """Forget the switched default (back to ``default``); returns whether one was set."""
    from spconnect.store import files

    return files.remove_file(path())
