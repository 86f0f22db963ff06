"""``spconnect token``: the slow path (the fast path lives in entry.py).

Reached when no fresh token is cached, or with flags the fast path does not serve.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from spconnect import tokens
from spconnect.cli.common import ProfileOpt, VerboseOpt, out, setup_verbose
from spconnect.token_output import render
from spconnect.workspace import Workspace


class Format(str, enum.Enum):
    raw = "raw"
    header = "header"
    json = "json"
    env = "env"


class Grantless(str, enum.Enum):
    notifications = "notifications"
    rotation = "rotation"


def token(
    fmt: Annotated[
        Format, typer.Option("--format", help="raw, header, json or env.", case_sensitive=False)
    ] = Format.raw,
    min_ttl: Annotated[
        float, typer.Option("--min-ttl", help="Guarantee at least this many seconds of validity.")
    ] = 0,
    force_refresh: Annotated[
        bool, typer.Option("--force-refresh", help="Ask Amazon for a new token now.")
    ] = False,
    grantless: Annotated[
        Grantless | None,
        typer.Option(help="A grantless token for the profile's app (no seller authorization)."),
    ] = None,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Print a valid access token (refreshing it when needed)."""
    setup_verbose(verbose)
    ws = Workspace(zero_config=True)
    if grantless is not None:
        result = tokens.grantless_token(
            ws, profile, grantless.value, min_ttl=min_ttl, force_refresh=force_refresh
        )
    else:
        result = tokens.access_token(ws, profile, min_ttl=min_ttl, force_refresh=force_refresh)
    out(
        render(
            fmt.value,
            access_token=result.access_token,
            expires_at=result.expires_at,
            profile=result.profile,
            region=result.region,
            endpoint=result.endpoint,
            selling_partner_id=result.selling_partner_id,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("token")(token)
