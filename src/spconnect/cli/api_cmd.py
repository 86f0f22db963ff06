"""``spconnect api``: call an SP-API operation with the profile's token, as ``gh api``
does for GitHub (design, "Command contract"; amazon.md section 9; issue 10).

The Typer command: its flags and help. The work is api_command.run, which the fast route
in entry.py calls too without Typer; this command is reached with --help, -v, and flags
the fast route leaves to Click's parser and its messages.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spconnect.api_command import ApiOptions, run
from spconnect.cli.common import PlainHelpCommand, ProfileOpt, VerboseOpt, setup_verbose


def api(
    path: Annotated[
        str,
        typer.Argument(
            metavar="PATH", help="Path on the SP-API endpoint, e.g. /orders/v0/orders?..."
        ),
    ],
    method: Annotated[
        str | None,
        typer.Option("--method", "-X", metavar="METHOD", help="HTTP method (default GET)."),
    ] = None,
    raw_fields: Annotated[
        list[str] | None,
        typer.Option("--raw-field", "-f", metavar="KEY=VALUE", help="A string parameter."),
    ] = None,
    typed_fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-F",
            metavar="KEY=VALUE",
            help="A typed parameter: true, false, null, integers; @FILE reads a file.",
        ),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", metavar="FILE|-", help="The request body (JSON), '-': stdin."),
    ] = None,
    headers: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", metavar="'NAME: VALUE'", help="An extra header."),
    ] = None,
    paginate: Annotated[
        bool, typer.Option("--paginate", help="Follow next tokens; one page per line.")
    ] = False,
    slurp: Annotated[
        bool, typer.Option("--slurp", help="With --paginate: one JSON array of all pages.")
    ] = False,
    rdt: Annotated[
        str | None,
        typer.Option(
            "--rdt",
            metavar="ELEMENTS",
            help="Use a restricted data token for personal data, with these data "
            "elements (e.g. buyerInfo,shippingAddress; '' for none).",
        ),
    ] = None,
    include: Annotated[
        bool, typer.Option("--include", "-i", help="Print status line and headers too.")
    ] = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Call the SP-API with the profile's access token; print Amazon's answer.

    JSON is pretty-printed on a terminal and compact when piped (--paginate: one page
    per line). Throttled (429) requests wait for the operation's usage plan and are
    retried, at most 5 attempts and 120 s of waiting per request (more for operations
    slower than one call in 30 s: four refills); then exit 6. Exit 9: Amazon answered
    with an error status (its body on stdout); 4 or 5 when Amazon refuses the token and
    Login with Amazon then refuses the authorization (4) or the app (5).

    Examples:

    \b
        spconnect api /sellers/v1/marketplaceParticipations
        spconnect api /orders/v0/orders -f MarketplaceIds=ATVPDKIKX0DER \\
            -f CreatedAfter=2026-11-01T00:00:00Z --paginate > orders.jsonl
        spconnect api -p eu-shop --rdt buyerInfo /orders/v0/orders/ORDER-ID/buyerInfo
        spconnect api -X POST /notifications/v1/destinations --input destination.json
        spconnect api -i /sellers/v1/marketplaceParticipations   # status line, headers
    """
    setup_verbose(verbose)
    run(
        ApiOptions(
            path=path,
            profile=profile,
            method=method,
            raw_fields=tuple(raw_fields or ()),
            typed_fields=tuple(typed_fields or ()),
            input_file=input_file,
            headers=tuple(headers or ()),
            paginate=paginate,
            slurp=slurp,
            rdt=rdt,
            include=include,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("api", cls=PlainHelpCommand)(api)
