"""How ``spconnect token`` prints a token, shared by the fast path and the Typer command.

Standard library only (``json`` is imported for the json format alone): the fast path
renders through this module.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # not `typing`: this module is on the fast path
if TYPE_CHECKING:
    from spconnect.access import AccessToken

FORMATS = ("raw", "header", "json", "env")


def _shell_quote(value: str) -> str:
    # Tokens contain '|', which a shell would read as a pipe; single quotes make every
    # character literal, and a quote inside is closed, escaped and reopened.
    return "'" + value.replace("'", "'\\''") + "'"


def render(
    fmt: str,
    *,
    access_token: str,
    expires_at: float,
    profile: str,
    region: str,
    endpoint: str,
    selling_partner_id: str | None,
    now: float | None = None,
) -> str:
    """The text to print (with trailing newline) for ``--format fmt``."""
    if fmt == "raw":
        return access_token + "\n"
    if fmt == "header":
        return f"x-amz-access-token: {access_token}\n"
    if fmt == "env":
        lines = [
            ("SPAPI_ACCESS_TOKEN", access_token),
            ("SPAPI_ENDPOINT", endpoint),
            ("SPAPI_REGION", region),
            ("SPAPI_SELLING_PARTNER_ID", selling_partner_id or ""),
        ]
        return "".join(f"export {name}={_shell_quote(value)}\n" for name, value in lines)
    if fmt == "json":
        import json

        now = time.time() if now is None else now
        document = {
            "access_token": access_token,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)),
            "expires_in": max(0, int(expires_at - now)),
            "profile": profile,
            "region": region,
            "endpoint": endpoint,
            "selling_partner_id": selling_partner_id,
        }
        return json.dumps(document) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def render_token(fmt: str, token: AccessToken) -> str:
    """``render`` for a token obtained by the refresh path (tokens.obtain)."""
    return render(
        fmt,
        access_token=token.access_token,
        expires_at=token.expires_at,
        profile=token.profile,
        region=token.region,
        endpoint=token.endpoint,
        selling_partner_id=token.selling_partner_id,
    )
