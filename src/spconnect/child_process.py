"""``spconnect exec``: run a command with a valid access token in its environment (design,
"Command contract" and "Security rules").

The child gets ``SPAPI_ACCESS_TOKEN``, valid for at least ``--min-ttl`` seconds (default
DEFAULT_MIN_TTL, 900: a quarter of an hour of work without a refresh; issue 10), and the
three non-secret variables of
``spconnect token --format env`` (``SPAPI_ENDPOINT``, ``SPAPI_REGION``,
``SPAPI_SELLING_PARTNER_ID``), and this process's environment without spconnect's own
secrets (``SPCONNECT_CLIENT_SECRET``, ``SPCONNECT_REFRESH_TOKEN[_<PROFILE>]``, present with
``storage = "env"``): a child needs an hour's token, never the credentials that make them.

On POSIX the command replaces this process (``execvpe``), so signals, the terminal, stdin
and the exit status are the command's own, and nothing of spconnect stays in memory. A
command that cannot be found or run ends with 127 or 126, as in POSIX shells and env(1).

Standard library only while the cached token is fresh (no dataclasses even, which cost
``spconnect.access`` a dozen milliseconds): ``entry.py`` runs ``exec`` from here without
the Typer CLI, as it does ``token``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from spconnect.store import envvars

COMMAND_NOT_EXECUTABLE = 126
COMMAND_NOT_FOUND = 127
# The command cannot ask for a new token; a quarter of an hour is what most jobs need.
DEFAULT_MIN_TTL = 900.0


def token_variables(
    profile: str | None, *, min_ttl: float | None = None, grantless: str | None = None
) -> dict[str, str]:
    """The four variables the command gets, for the profile's token or its app's
    grantless one, valid at least ``min_ttl`` seconds (None: DEFAULT_MIN_TTL): a fresh
    cache entry as ``spconnect token``'s fast path serves it (standard library only), else
    spconnect.access, which refreshes when due."""
    from spconnect.store import default_profile

    # The CLI's rule: -p, else $SPCONNECT_PROFILE, else the switched default, else default.
    name = default_profile.resolve(profile)[0]
    if min_ttl is None:
        min_ttl = DEFAULT_MIN_TTL
    if grantless is None:
        from spconnect.names import is_profile_name

        entry = None
        if is_profile_name(name) and min_ttl >= 0:
            from spconnect.store import cache

            try:
                entry = cache.fresh_entry(name, min_ttl)
            except Exception:
                # Anything odd about the cache: spconnect.access does the same job the slow
                # way and reports real problems properly, as entry.py's token path does.
                entry = None
        if entry is not None:
            from spconnect.amazon.endpoints import spapi_endpoint

            region = str(entry["region"])
            sp_id = entry.get("selling_partner_id")
            return _variables(
                str(entry["access_token"]),
                spapi_endpoint(region, bool(entry.get("sandbox"))),
                region,
                sp_id if isinstance(sp_id, str) else None,
            )
        from spconnect import access

        token = access.access_token(name, min_ttl=min_ttl)
    else:
        from spconnect import access, tokens
        from spconnect.workspace import Workspace

        workspace = Workspace(zero_config=True)
        token = tokens.grantless_token(
            workspace, access.profile_name(name), grantless, min_ttl=min_ttl
        )
    return _variables(token.access_token, token.endpoint, token.region, token.selling_partner_id)


def _variables(
    access_token: str, endpoint: str, region: str, selling_partner_id: str | None
) -> dict[str, str]:
    # As `spconnect token --format env` names them (token_output.py).
    return {
        "SPAPI_ACCESS_TOKEN": access_token,
        "SPAPI_ENDPOINT": endpoint,
        "SPAPI_REGION": region,
        "SPAPI_SELLING_PARTNER_ID": selling_partner_id or "",
    }


def _is_spconnect_secret(name: str) -> bool:
    return name in (envvars.CLIENT_SECRET, envvars.REFRESH_TOKEN) or name.startswith(
        envvars.REFRESH_TOKEN + "_"
    )


def child_environment(environ: Mapping[str, str], variables: dict[str, str]) -> dict[str, str]:
    """``environ`` without spconnect's secrets, with the token's four variables."""
    env = {k: v for k, v in environ.items() if not _is_spconnect_secret(k)}
    env.update(variables)
    return env


def run(command: list[str], env: dict[str, str]) -> int:
    """Run ``command``; on POSIX this process becomes it and never returns on success."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if os.name == "posix":
            # Without a shell on purpose: the user's words run as given, never re-parsed.
            os.execvpe(command[0], command, env)  # noqa: S606
        import subprocess

        return subprocess.run(command, env=env, check=False).returncode
    except FileNotFoundError:
        sys.stderr.write(f"spconnect exec: {command[0]}: command not found\n")
        return COMMAND_NOT_FOUND
    except OSError as exc:
        sys.stderr.write(f"spconnect exec: {command[0]}: {exc.strerror or exc}\n")
        return COMMAND_NOT_EXECUTABLE
