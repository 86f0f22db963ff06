"""Console entry point.

``spconnect token`` is called in loops by shell scripts, so when a valid token is cached
it is answered here, from the cache file, before Typer, Rich, httpx, keyring or pydantic
are imported (about a second of imports together; design, "Speed"). Anything this fast
path is not sure about (another command, an unknown flag, a missing, stale or corrupt
cache entry) falls through to the full CLI, which does the same job the slow way.
"""

from __future__ import annotations

import os
import sys

_VALUE_FLAGS = {
    "-p": "profile",
    "--profile": "profile",
    "--format": "format",
    "--min-ttl": "min_ttl",
}


def _parse_fast_token_args(args: list[str]) -> dict[str, str] | None:
    """Parse ``token`` flags the fast path can serve; None means "let the CLI decide"."""
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, sep, inline = arg.partition("=")
        if name in _VALUE_FLAGS and (sep or name == "-p" or name.startswith("--")):
            if sep:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            options[_VALUE_FLAGS[name]] = value
        elif arg.startswith("-p") and len(arg) > 2 and "=" not in arg:
            options["profile"] = arg[2:]
        else:
            return None  # --force-refresh, --grantless, -v, --help, typos: not ours
        i += 1
    return options


def _serve_cached_token(args: list[str]) -> bool:
    """Print a cached token and return True, or return False to fall through."""
    options = _parse_fast_token_args(args)
    if options is None:
        return False

    from spconnect.names import is_profile_name
    from spconnect.store import cache
    from spconnect.token_output import FORMATS, render

    profile = options.get("profile") or os.environ.get("SPCONNECT_PROFILE") or "default"
    fmt = options.get("format", "raw")
    if fmt not in FORMATS or not is_profile_name(profile):
        return False
    try:
        min_ttl = float(options.get("min_ttl", "0"))
    except ValueError:
        return False
    if not 0 <= min_ttl < 86400:
        return False

    entry = cache.read_entry(profile)
    if entry is None or not cache.is_usable(entry, min_ttl):
        return False
    env_refresh_token = os.environ.get("SPCONNECT_REFRESH_TOKEN")
    if env_refresh_token or entry.get("storage") == "env":
        # storage = "env": the refresh token is known here, so check the entry is its own;
        # with the variable unset, let the CLI say so rather than serve a leftover token.
        from spconnect.names import clean_pasted

        refresh_token = clean_pasted(env_refresh_token or "")
        key = cache.credential_key(str(entry["client_id"]), refresh_token)
        if not refresh_token or not cache.matches(entry, key):
            return False

    from spconnect.amazon.endpoints import spapi_endpoint

    region = str(entry["region"])
    sp_id = entry.get("selling_partner_id")
    text = render(
        fmt,
        access_token=str(entry["access_token"]),
        expires_at=float(entry["expires_at"]),  # type: ignore[arg-type]
        profile=profile,
        region=region,
        endpoint=spapi_endpoint(region, bool(entry.get("sandbox"))),
        selling_partner_id=sp_id if isinstance(sp_id, str) else None,
    )
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "token":
        try:
            if _serve_cached_token(args[1:]):
                return 0
        except Exception:  # noqa: S110 - see below
            # Anything odd about the cache or the flags: the full CLI does the same job
            # the slow way and reports real problems properly. The fast path never fails.
            pass
        except KeyboardInterrupt:
            return 130
    from spconnect.cli.main import run

    return run(args)
