"""What happened at a profile's last token refresh, for ``spconnect status``.

``<cache dir>/state/<profile>.json`` (0600, atomic): when, whether it worked, the exit
code and the message of a failure, and the clock skew seen in the LWA server's Date
header. Never a token.

The message often quotes an error body, so it is stored only after ``one_line`` (secrets
masked, also in encoded form; control characters stripped; length capped), and made safe
again when read: a file written by an older version, or edited, is shown by every
``status`` (issue 8, sections 2 and 5).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, replace

from spconnect.redaction import one_line
from spconnect.store import files, paths

MAX_MESSAGE_LENGTH = 1000


@dataclass(frozen=True)
class RefreshOutcome:
    at: float
    ok: bool
    exit_code: int
    message: str | None = None
    clock_skew: float | None = None  # seconds the local clock is ahead of Amazon's


def _path(profile: str) -> str:
    return os.path.join(paths.cache_dir(), "state", f"{profile}.json")


def record_refresh(
    profile: str,
    *,
    ok: bool,
    exit_code: int = 0,
    message: str | None = None,
    clock_skew: float | None = None,
) -> None:
    outcome = RefreshOutcome(time.time(), ok, exit_code, _safe(message), clock_skew)
    # A status note must never break getting a token.
    with contextlib.suppress(OSError):
        files.write_private(_path(profile), json.dumps(asdict(outcome)).encode())


def last_refresh(profile: str) -> RefreshOutcome | None:
    try:
        with open(_path(profile), encoding="utf-8") as handle:
            data = json.load(handle)
        outcome = RefreshOutcome(**data)
    except (OSError, ValueError, TypeError):
        return None
    message = outcome.message
    return replace(outcome, message=_safe(None if message is None else str(message)))


def _safe(message: str | None) -> str | None:
    return one_line(message, MAX_MESSAGE_LENGTH) if message else None


def forget(profile: str) -> None:
    files.remove_file(_path(profile))
