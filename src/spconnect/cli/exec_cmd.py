"""``spconnect exec``: the slow path (the fast path lives in entry.py; the work in
child_process.py).

Reached with -v, --help, or flags the fast path does not parse. Options end at ``--`` or
at the command's name, so ``spconnect exec curl -s URL`` keeps ``-s`` for curl.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from spconnect import child_process
from spconnect.cli.common import PlainHelpCommand, ProfileOpt, VerboseOpt, setup_verbose
from spconnect.cli.token_cmd import Grantless
from spconnect.redaction import register_secret


def exec_(
    command: Annotated[
        list[str],
        typer.Argument(metavar="COMMAND [ARGS]...", help="The command to run, and its arguments."),
    ],
    min_ttl: Annotated[
        float,
        typer.Option(
            "--min-ttl",
            metavar="SECONDS",
            help="Guarantee at least this many seconds of validity (the command cannot "
            "renew the token).",
        ),
    ] = child_process.DEFAULT_MIN_TTL,
    grantless: Annotated[
        Grantless | None,
        typer.Option(help="A grantless token for the profile's app (no seller authorization)."),
    ] = None,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Run a command with a valid access token in its environment.

    The command gets SPAPI_ACCESS_TOKEN, SPAPI_ENDPOINT, SPAPI_REGION and
    SPAPI_SELLING_PARTNER_ID, and none of spconnect's secrets. Its exit status is the
    command's.

    Examples:

    \b
        spconnect exec -- python export_orders.py
        spconnect exec -p eu-shop --min-ttl 1800 -- ./long-report.sh
        spconnect exec -- sh -c 'curl -H "x-amz-access-token: $SPAPI_ACCESS_TOKEN" \\
            "$SPAPI_ENDPOINT/sellers/v1/marketplaceParticipations"'
    """
    setup_verbose(verbose)
    variables = child_process.token_variables(
        profile, min_ttl=min_ttl, grantless=grantless.value if grantless else None
    )
    register_secret(variables["SPAPI_ACCESS_TOKEN"])
    env = child_process.child_environment(os.environ, variables)
    raise typer.Exit(child_process.run(command, env))


def register(app: typer.Typer) -> None:
    app.command("exec", cls=PlainHelpCommand, context_settings={"allow_interspersed_args": False})(
        exec_
    )
