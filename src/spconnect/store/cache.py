"""The access-token cache: ``<cache dir>/tokens/<profile>.json``, 0600, atomic replace.

Each entry records a hash of (client id, refresh token), so a cache written for an older
refresh token is recognised as stale by any caller that knows the current one. The fast
path cannot read the keyring and so cannot know it: whatever changes a profile's refresh
token or its app's credentials deletes or rewrites the entry in the same step (design,
"Files and storage"). With ``storage = "env"`` the fast path does know the refresh token
(it is in the environment) and checks the hash itself.

This module is on the fast path: standard library only, no ``re``/``typing``.
"""

from __future__ import annotations

import os
import time

from spconnect.store import paths

CACHE_VERSION = 1
# Refresh when less than this is left (amazon.md section 6: Amazon's SDKs refresh
# 30-60 s early; five minutes also absorbs modest clock skew). Configurable per config.
DEFAULT_REFRESH_MARGIN = 300
# Entries are a few hundred bytes; tokens are at most 2048 bytes (amazon.md section 1).
MAX_ENTRY_BYTES = 64 * 1024
# Access tokens live one hour (amazon.md section 6); an entry claiming more than a day is
# not believed, and times past the year 5000 are not even parsed as times.
MAX_TOKEN_LIFETIME = 86400
_LATEST_TIME = 1e11


def cache_path(profile: str) -> str:
    return os.path.join(paths.tokens_dir(), f"{profile}.json")


def lock_path(profile: str) -> str:
    return os.path.join(paths.tokens_dir(), f"{profile}.lock")


def credential_key(client_id: str, refresh_token: str) -> str:
    """The hash that ties a cache entry to the credentials that produced it."""
    import hashlib

    material = f"{client_id}\0{refresh_token}".encode()
    return hashlib.sha256(material).hexdigest()


class _ScannerContext:
    """The attributes CPython's C JSON scanner reads from its json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}  # noqa: RUF012 - the C scanner's own cache, by name


def _decode_json(text: str) -> object:
    """``json.loads`` without importing ``json``.

    ``import json`` pulls in ``re`` and ``enum``: about 7 ms here, which alone would cost
    the fast path most of its budget (design, "Speed": at most 2x ``python -c pass``).
    CPython's accelerator ``_json`` parses the same grammar natively; other interpreters
    fall back to ``json``. A test feeds both the same documents.
    """
    try:
        from _json import make_scanner
    except ImportError:
        import json

        return json.loads(text)
    scan = make_scanner(_ScannerContext())  # type: ignore[arg-type]  # duck-typed context
    start = len(text) - len(text.lstrip())
    try:
        value, end = scan(text, start)
    except Exception:
        # On malformed input the C scanner builds its error from json.decoder, and only
        # if that module is already imported (else SystemError). Let json give the
        # verdict: only corrupt files, the rare case, pay for importing it.
        import json

        return json.loads(text)
    if text[end:].strip():
        raise ValueError("extra data after the JSON document")
    return value


def parse_entry(raw: bytes) -> dict[str, object] | None:
    """Decode a cache file; anything corrupt, truncated or foreign is a miss (None)."""
    try:
        entry = _decode_json(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != CACHE_VERSION:
        return None
    token = entry.get("access_token")
    if not isinstance(token, str) or not _printable_token(token):
        return None
    for field in ("expires_at", "refresh_at"):
        value = entry.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not 0 < value < _LATEST_TIME:  # also false for NaN
            return None
    for field in ("key", "client_id", "region"):
        if not isinstance(entry.get(field), str):
            return None
    return entry


def _trusted(st: os.stat_result, want_dir: bool) -> bool:
    """Whether a file or directory may be believed: ours, and writable by nobody else.

    A token planted in a shared or hijacked cache directory by another local user must
    never be served (issue 8). POSIX only: on Windows the per-user profile directory's ACL
    is what protects the cache, and no owner or mode check is made here.
    """
    import stat

    kind_ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    if not kind_ok:
        return False
    if os.name != "posix":  # pragma: no cover - Windows cannot run here
        return True
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _printable_token(token: str) -> bool:
    """An access token as LWA gives them: 1 to 2048 visible ASCII characters (amazon.md
    section 1). The fast path prints the cached token as it is: a forged one must not
    smuggle a line break into a header or an escape sequence into a terminal."""
    from spconnect.names import is_visible_ascii

    return 0 < len(token) <= 2048 and is_visible_ascii(token)


def read_trusted(path: str) -> bytes | None:
    """The bytes of a cache file whose directory and file pass ``_trusted``; else None.

    Symlinks are refused for both (lstat on the directory, O_NOFOLLOW on the file), so
    neither can be redirected to a file someone else controls.
    """
    try:
        if not _trusted(os.lstat(os.path.dirname(path)), want_dir=True):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not _trusted(os.fstat(fd), want_dir=False):
            return None
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_ENTRY_BYTES:
                return None  # no real entry is this large
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_entry(profile: str) -> dict[str, object] | None:
    """The cached entry of ``profile``, only if it is that profile's (not a copy of another
    profile's file) and comes from a trusted file."""
    raw = read_trusted(cache_path(profile))
    entry = parse_entry(raw) if raw is not None else None
    if entry is None or entry.get("profile") != profile:
        return None
    return entry


def fresh_entry(
    profile: str, min_ttl: float = 0, now: float | None = None
) -> dict[str, object] | None:
    """The profile's cached entry if it can be served as it is, without the secret store.

    Everything that changes a profile's credentials rewrites or deletes its entry, so a
    trusted, unexpired entry is the current one. The exception is ``storage = "env"``,
    where the refresh token changes with the environment: there the entry must be the
    current variable's (and with the variable unset nothing is served, so that the caller
    says what is missing rather than serving a leftover token).
    """
    entry = read_entry(profile)
    if entry is None or not is_usable(entry, min_ttl, now):
        return None
    from spconnect.store import envvars

    if not envvars.describes_cached(entry):
        return None  # zero-config: the variables now name another region or app
    refresh_token = envvars.refresh_token(profile)
    if refresh_token or entry.get("storage") == "env":
        if not refresh_token:
            return None
        if not matches(entry, credential_key(str(entry["client_id"]), refresh_token)):
            return None
    return entry


def is_usable(entry: dict[str, object], min_ttl: float = 0, now: float | None = None) -> bool:
    """True when the token has not reached its refresh time and lasts ``min_ttl`` more."""
    now = time.time() if now is None else now
    expires_at = float(entry["expires_at"])  # type: ignore[arg-type]
    refresh_at = float(entry["refresh_at"])  # type: ignore[arg-type]
    if expires_at - now > MAX_TOKEN_LIFETIME:
        return False  # no access token lives this long: a forged or corrupt entry
    return now < refresh_at and expires_at - now >= min_ttl


def matches(entry: dict[str, object], key: str) -> bool:
    import hmac

    return hmac.compare_digest(str(entry.get("key", "")), key)
