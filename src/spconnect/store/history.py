"""What happened at a profile's last token refresh, for ``spconnect status``.

``<cache dir>/state/<profile>.json`` (0600, atomic): when, whether it worked, the exit
code and the (already redacted) message of a failure, and the clock skew seen in the LWA
server's Date header. Never a token.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass

from spconnect.redaction import redact
from spconnect.store import files, paths


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
    outcome = RefreshOutcome(
        time.time(), ok, exit_code, redact(message) if message else None, clock_skew
    )
    # A status note must never break getting a token.
    with contextlib.suppress(OSError):
        files.write_private(_path(profile), json.dumps(asdict(outcome)).encode())


def last_refresh(profile: str) -> RefreshOutcome | None:
    try:
        with open(_path(profile), encoding="utf-8") as handle:
            data = json.load(handle)
        return RefreshOutcome(**data)
    except (OSError, ValueError, TypeError):
        return None


def forget(profile: str) -> None:
    files.remove_file(_path(profile))
