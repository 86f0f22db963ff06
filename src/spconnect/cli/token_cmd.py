"""``spconnect token``: the slow path (the fast path lives in entry.py).

Reached when no fresh token is cached, or with flags the fast path does not serve.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from spconnect import tokens
from spconnect.cli.common import ProfileOpt, VerboseOpt, choices, out, setup_verbose
from spconnect.token_output import render_token
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
        Format,
        typer.Option(
            "--format",
            metavar="FORMAT",
            parser=choices(Format),
            help="raw: the bare token; header: `x-amz-access-token: TOKEN`; json: an object "
            "with access_token, expires_at, expires_in, profile, region, endpoint and "
            "selling_partner_id; env: `export` lines for SPAPI_ACCESS_TOKEN, SPAPI_ENDPOINT, "
            "SPAPI_REGION and SPAPI_SELLING_PARTNER_ID.",
        ),
    ] = Format.raw,
    min_ttl: Annotated[
        float,
        typer.Option(
            "--min-ttl",
            metavar="SECONDS",
            help="Guarantee at least this many seconds of validity.",
        ),
    ] = 0,
    force_refresh: Annotated[
        bool, typer.Option("--force-refresh", help="Ask Amazon for a new token now.")
    ] = False,
    grantless: Annotated[
        Grantless | None,
        typer.Option(
            metavar="SCOPE",
            parser=choices(Grantless),
            help="A grantless token for the profile's app, no seller authorization: "
            "notifications or rotation.",
        ),
    ] = None,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Print a valid access token (refreshing it when needed).

    A fresh token comes from the cache in milliseconds; an expired one is refreshed once,
    however many calls run at the same time.

    Examples:

    \b
        spconnect token                             # the bare token
        spconnect -p prod token --format json       # with expiry, endpoint and ids
        curl -H "$(spconnect token --format header)" "$SPAPI_ENDPOINT/sellers/v1/..."
        eval "$(spconnect token --format env)"      # SPAPI_ACCESS_TOKEN and friends
        spconnect token --min-ttl 900               # valid for at least 15 minutes
    """
    setup_verbose(verbose)
    result = tokens.obtain(
        Workspace(zero_config=True),
        profile,
        grantless=grantless.value if grantless is not None else None,
        min_ttl=min_ttl,
        force_refresh=force_refresh,
    )
    out(render_token(fmt.value, result))


def register(app: typer.Typer) -> None:
    app.command("token")(token)
