"""Secrets and settings from the environment: ``storage = "env"`` and zero-config mode.

The names of the design's variables live here, once. Standard library only: the token fast
path checks its cached entry against the environment's refresh token.

- ``SPCONNECT_CLIENT_SECRET``: the app's client secret.
- ``SPCONNECT_REFRESH_TOKEN_<PROFILE>``: one profile's refresh token (as python-amazon-sp-api
  reads ``SP_API_REFRESH_TOKEN_<account>``); the profile name upper-cased, every character
  other than a letter or digit turned into ``_`` (so ``eu-shop`` reads
  ``SPCONNECT_REFRESH_TOKEN_EU_SHOP``). It wins over
- ``SPCONNECT_REFRESH_TOKEN``: the refresh token of any profile without its own variable.
- ``SPCONNECT_CLIENT_ID`` and ``SPCONNECT_REGION``: with the secrets above and no config
  file, enough for ``token``, ``api`` and ``exec`` (zero-config mode, as ``GH_TOKEN`` is
  for gh).
"""

from __future__ import annotations

import os

# Not `from collections.abc import Mapping` at run time: importing collections costs the
# token fast path about 2 ms, a tenth of its whole budget (design, "Speed").
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

CLIENT_SECRET = "SPCONNECT_CLIENT_SECRET"
REFRESH_TOKEN = "SPCONNECT_REFRESH_TOKEN"
CLIENT_ID = "SPCONNECT_CLIENT_ID"
REGION = "SPCONNECT_REGION"
# The app's name in zero-config mode (no config file): the one these variables describe.
ZERO_CONFIG_APP = "environment"


def describes_cached(entry: dict[str, object]) -> bool:
    """Whether a zero-config cache entry is for the app and region the variables name now
    (a script may switch SPCONNECT_REGION between calls); True for any other entry."""
    if entry.get("app") != ZERO_CONFIG_APP:
        return True
    region = (os.environ.get(REGION) or "").strip().lower()
    client_id = (os.environ.get(CLIENT_ID) or "").strip()
    return region == entry.get("region") and client_id == entry.get("client_id")


def refresh_token_variable(profile: str) -> str:
    """``SPCONNECT_REFRESH_TOKEN_<PROFILE>`` for a profile name."""
    suffix = "".join(c if c.isascii() and c.isalnum() else "_" for c in profile.upper())
    return f"{REFRESH_TOKEN}_{suffix}"


def _clean(value: str | None) -> str | None:
    from spconnect.names import clean_pasted

    cleaned = clean_pasted(value) if value else ""
    return cleaned or None


def refresh_token(profile: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The profile's refresh token from the environment: its own variable, else the
    shared one; None when neither is set."""
    source = os.environ if environ is None else environ
    own = _clean(source.get(refresh_token_variable(profile)))
    return own if own is not None else _clean(source.get(REFRESH_TOKEN))


def client_secret(environ: Mapping[str, str] | None = None) -> str | None:
    source = os.environ if environ is None else environ
    return _clean(source.get(CLIENT_SECRET))


def describe(profile: str | None = None) -> str:
    """Where env storage looks, for messages."""
    if profile is None:
        return f"environment ({CLIENT_SECRET}, {REFRESH_TOKEN}[_<PROFILE>])"
    return f"environment ({refresh_token_variable(profile)} or {REFRESH_TOKEN})"
