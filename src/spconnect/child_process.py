"""``spconnect exec``: run a command with a valid access token in its environment (design,
"Command contract" and "Security rules").

The child gets ``SPAPI_ACCESS_TOKEN`` and the three non-secret variables of
``spconnect token --format env`` (``SPAPI_ENDPOINT``, ``SPAPI_REGION``,
``SPAPI_SELLING_PARTNER_ID``), and this process's environment without spconnect's own
secrets (``SPCONNECT_CLIENT_SECRET``, ``SPCONNECT_REFRESH_TOKEN[_<PROFILE>]``, present with
``storage = "env"``): a child needs an hour's token, never the credentials that make them.

On POSIX the command replaces this process (``execvpe``), so signals, the terminal, stdin
and the exit status are the command's own, and nothing of spconnect stays in memory. A
command that cannot be found or run ends with 127 or 126, as in POSIX shells and env(1).

Standard library only until a refresh is due: ``entry.py`` runs ``exec`` from here
without the Typer CLI when the cached token is fresh, as it does ``token``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from spconnect.access import AccessToken
from spconnect.store import envvars

COMMAND_NOT_EXECUTABLE = 126
COMMAND_NOT_FOUND = 127


def token_for(
    profile: str | None, *, min_ttl: float = 0, grantless: str | None = None
) -> AccessToken:
    """The token the child gets: the profile's, or its app's grantless one."""
    from spconnect import access

    if grantless is None:
        return access.access_token(profile, min_ttl=min_ttl)
    from spconnect import tokens
    from spconnect.workspace import Workspace

    name = access.profile_name(profile)
    return tokens.grantless_token(Workspace(zero_config=True), name, grantless, min_ttl=min_ttl)


def _is_spconnect_secret(name: str) -> bool:
    return name in (envvars.CLIENT_SECRET, envvars.REFRESH_TOKEN) or name.startswith(
        envvars.REFRESH_TOKEN + "_"
    )


def child_environment(environ: Mapping[str, str], token: AccessToken) -> dict[str, str]:
    """``environ`` without spconnect's secrets, with the token's four variables."""
    env = {k: v for k, v in environ.items() if not _is_spconnect_secret(k)}
    env.update(
        SPAPI_ACCESS_TOKEN=token.access_token,
        SPAPI_ENDPOINT=token.endpoint,
        SPAPI_REGION=token.region,
        SPAPI_SELLING_PARTNER_ID=token.selling_partner_id or "",
    )
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
