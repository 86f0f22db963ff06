"""``spconnect invite``: links for sellers who are somewhere else, answered by your own
invite server (issue 11), and pulling the authorizations they bring back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer

from spconnect import invites
from spconnect.admin_api import Invite
from spconnect.cli.common import (
    PROFILE_BEFORE_COMMAND,
    ForceOpt,
    VerboseOpt,
    out,
    profile_names,
    rich_output,
    safe_document,
    say,
    setup_verbose,
    shown,
)
from spconnect.cli.confirm import YesOpt, confirm_destructive
from spconnect.cli.server_cmd import server_names
from spconnect.errors import ExitCode
from spconnect.names import is_profile_name
from spconnect.workspace import Workspace

app = typer.Typer(
    help="""Invite a seller who is somewhere else, through your own invite server.

    The seller opens the link, signs in to Seller (or Vendor) Central and consents; your
    server seals the refresh token to this CLI's key; `invite pull` opens it, proves it with
    one refresh and stores the profile as `spconnect login` does. Pair a server first with
    `spconnect server add`.

    Examples:

    \b
        spconnect invite create -p acme --marketplace DE --note "Acme GmbH"
        spconnect invite list
        spconnect invite pull
        spconnect invite revoke 8GHRbBZrHFI-oV6228z9Qg
    """,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root's (cli/main.py)
)

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        metavar="NAME",
        autocompletion=server_names,
        help="The paired invite server (default: the only one).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _named_profile(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str:
    """-p for `invite create`, before or after the command, and never a default: the
    invite names the profile the seller's authorization will be stored as."""
    if ctx.resilient_parsing:  # shell completion: nothing is run
        return value or ""
    before = ctx.meta.get(PROFILE_BEFORE_COMMAND)
    if value is not None and before is not None and value != before:
        raise typer.BadParameter(
            f"two profiles were given: {before!r} before the command and {value!r} after it"
        )
    name = value or before
    if name is None:
        raise typer.BadParameter(
            "name the profile the seller's authorization is stored as when pulled, e.g. "
            "-p acme (invites take no default profile)"
        )
    if not is_profile_name(name):
        raise typer.BadParameter(
            f"{name!r} is not a profile name (letters, digits, '.', '_', '-'; starting "
            "with a letter or digit; at most 64 characters)"
        )
    return str(name)


def _no_profile(ctx: typer.Context) -> None:
    """`spconnect -p X invite list`: the root accepted -p for the group; these commands
    concern a server, not a profile."""
    if ctx.meta.get(PROFILE_BEFORE_COMMAND) is not None:
        raise typer.BadParameter(
            f"`{ctx.command_path}` takes no profile", param_hint="'-p' / '--profile'"
        )


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@app.command("create")
def create(
    marketplace: Annotated[
        str | None,
        typer.Option(
            metavar="CODE",
            help="Country code (DE), marketplace id, or region (na, eu, fe) the seller "
            "consents through (default for --reauth: the profile's).",
        ),
    ] = None,
    vendor: Annotated[
        bool, typer.Option("--vendor", help="Consent in Vendor Central (a vendor account).")
    ] = False,
    expires: Annotated[
        str,
        typer.Option(
            metavar="DURATION", help="How long the link works: Ns, Nm, Nh or Nd, 60s to 30d."
        ),
    ] = "7d",
    note: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="Shown to the seller on the invite page (<= 200 characters)."
        ),
    ] = None,
    reauth: Annotated[
        bool,
        typer.Option(
            "--reauth",
            help="Renew the profile's authorization: only the account it holds is accepted.",
        ),
    ] = False,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME",
            show_default=False,
            callback=_named_profile,
            autocompletion=profile_names,
            help="The profile the seller's authorization is stored as when pulled "
            "(required). Also accepted before the command.",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Make an invite link for a seller; prints only the link on stdout.

    The seller opens it, sees your app's name and what they authorize, and consents in
    Seller (or Vendor) Central. `spconnect invite pull` then stores the profile.

    Examples:

    \b
        spconnect invite create -p acme --marketplace DE --note "Acme GmbH, EU account"
        spconnect invite create -p acme-vendor --marketplace US --vendor --expires 2d
        spconnect invite create -p acme --reauth       # the yearly renewal, same account
        spconnect invite create -p acme --marketplace UK --json | jq -r .url
    """
    setup_verbose(verbose)
    assert profile is not None  # _named_profile refuses a missing one
    expires_in = invites.parse_expires(expires)
    ws = Workspace()
    created = invites.create_invite(
        ws,
        server=server,
        profile=profile,
        marketplace=marketplace,
        vendor=vendor,
        expires_in=expires_in,
        note=note,
        reauth=reauth,
    )
    invite = created.invite
    for line in created.notes:
        say(f"Note: {line}")
    kind = "vendor" if created.vendor else "seller"
    say(
        f"Invite {invite.id} on server {created.server!r}: profile {profile!r}, {kind} "
        f"consent through {created.marketplace.country} ({created.marketplace.code}), app "
        f"{created.app_name!r}{', renewal' if reauth else ''}; the link works until "
        f"{_short(invite.expires_at)}. Send it to the seller:"
    )
    if as_json:
        document = {
            "id": invite.id,
            "url": created.url,
            "server": created.server,
            "profile": profile,
            "marketplace": created.marketplace.code,
            "kind": kind,
            "reauth": reauth,
            "note": invite.note,
            "expires_at": _iso(invite.expires_at),
        }
        out(json.dumps(safe_document(document), indent=2) + "\n")
    else:
        out(shown(created.url) + "\n")
    say("When the seller has connected: spconnect invite pull")


def _when_text(invite: Invite) -> str:
    """The column that says what happens next, or happened."""
    if invite.status == "pending":
        return f"expires {_short(invite.expires_at)}"
    if invite.status in ("connected", "pulled"):
        return f"connected {_short(invite.connected_at)}"
    if invite.status == "expired":
        return f"expired {_short(invite.expires_at)}"
    if invite.status == "failed":
        return f"failed: {invite.failure or 'no reason given'}"
    return invite.status


def _invite_json(ws: Workspace, server: str, invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "status": invite.status,
        "profile": invite.profile,
        "selling_partner_id": invite.selling_partner_id,
        "marketplace": invite.marketplace,
        "kind": invite.kind,
        "reauth": invite.reauth,
        "expected_selling_partner_id": invite.expected_selling_partner_id,
        "open_enrollment": invite.open_enrollment,
        "note": invite.note,
        "created_at": _iso(invite.created_at),
        "expires_at": _iso(invite.expires_at),
        "connected_at": _iso(invite.connected_at),
        "failure": invite.failure,
        "url": invites.invite_link(ws, server, invite),
    }


HEADINGS = ("ID", "PROFILE", "STATUS", "SELLER", "MARKETPLACE", "EXPIRES / CONNECTED")


def _row(invite: Invite) -> tuple[str, ...]:
    profile = invite.profile or (
        f"({invite.selling_partner_id})" if invite.open_enrollment else "-"
    )
    status = invite.status + (" (reauth)" if invite.reauth else "")
    return (
        invite.id,
        profile,
        status,
        invite.selling_partner_id or "-",
        invite.marketplace or "-",
        _when_text(invite),
    )


@app.command("list")
def list_invites(
    ctx: typer.Context,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the server's invites, newest first: pending, connected (waiting to be
    pulled), pulled, expired, failed (with the reason), revoked.

    Examples:

    \b
        spconnect invite list
        spconnect invite list --server prod
        spconnect invite list --json | jq -r '.invites[] | select(.status == "failed") | .id'
    """
    setup_verbose(verbose)
    _no_profile(ctx)
    ws = Workspace()
    name, items = invites.list_invites(ws, server)
    if as_json:
        document = {"server": name, "invites": [_invite_json(ws, name, i) for i in items]}
        out(json.dumps(safe_document(document), indent=2) + "\n")
        return
    if not items:
        say(f"No invites on server {name!r} yet. Make one with `spconnect invite create`.")
        return
    rows = [tuple(shown(cell) for cell in _row(i)) for i in items]
    if rich_output():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(*HEADINGS, title=f"invites on server {escape(name)}", title_justify="left")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        Console().print(table)
        return
    widths = [max(len(r[c]) for r in [HEADINGS, *rows]) for c in range(len(HEADINGS) - 1)]
    for row in [HEADINGS, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out("  ".join([*cells, row[-1]]) + "\n")


@app.command("pull")
def pull(
    ctx: typer.Context,
    server: ServerOpt = None,
    yes: YesOpt = False,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Store every connected invite's authorization here, as `spconnect login` does.

    Each sealed token is opened with this CLI's private key, checked against its invite,
    seller and app, proven with one refresh, stored, and only then deleted on the server.
    An invite that fails stays on the server. Exits 0 when all were pulled, else with the
    worst exit code (3: wrong admin token, 4: token rejected by Amazon, 5: app credentials
    rejected, 6: server or Amazon unreachable, 7: secure storage, 8: unusable invite).

    Examples:

    \b
        spconnect invite pull
        spconnect invite pull --server prod --yes   # from a script: replace without asking
        spconnect invite pull --yes --json | jq -r '.outcomes[] | select(.exit_code == 0).profile'
    """
    setup_verbose(verbose)
    _no_profile(ctx)
    ws = Workspace()

    def confirm(what: str, command: str) -> None:
        confirm_destructive(what, yes=yes or force, command=command)

    def report(outcome: invites.PullOutcome) -> None:
        if outcome.exit_code == ExitCode.OK:
            say(f"pulled {outcome.invite.id}: {outcome.message}")
        else:
            say(f"failed {outcome.invite.id} (exit {outcome.exit_code}): {outcome.message}")
            if outcome.hint:
                say(f"  {outcome.hint}")

    result = invites.pull_invites(
        ws, server, force=yes or force, confirm=confirm, on_outcome=report
    )
    if as_json:
        document = {
            "server": result.server,
            "pulled": result.pulled,
            "outcomes": [
                {
                    "invite": o.invite.id,
                    "profile": o.profile,
                    "selling_partner_id": o.invite.selling_partner_id,
                    "exit_code": o.exit_code,
                    "renewed": o.renewed,
                    "message": o.message,
                }
                for o in result.outcomes
            ],
            "pending": result.pending,
            "ended_without_connection": result.failed,
            "sealed_to_another_key": result.other_key,
            "pulled_before": result.pulled_before,
        }
        out(json.dumps(safe_document(document), indent=2) + "\n")
    waiting = []
    if result.pending:
        waiting.append(f"{result.pending} pending")
    if result.other_key:
        waiting.append(f"{result.other_key} sealed to another CLI's key")
    others = f"; {', '.join(waiting)}" if waiting else ""
    # Not a failed pull: a seller refused the consent, or Amazon's answer was unusable.
    ended = (
        f"{result.failed} invite{'s' if result.failed != 1 else ''} ended without a "
        "connection (consent refused or failed): `spconnect invite list` says why, "
        "`spconnect invite revoke ID` clears one."
        if result.failed
        else ""
    )
    if not result.outcomes:
        say(
            f"Nothing to pull from server {result.server!r}: no invite is connected and "
            f"waiting ({result.pulled_before} pulled before{others})."
        )
        if ended:
            say(ended)
        return
    say(
        f"Pulled {result.pulled} of {len(result.outcomes)} connected invites from server "
        f"{result.server!r}{others}."
    )
    if ended:
        say(ended)
    stored = [o.profile for o in result.outcomes if o.exit_code == ExitCode.OK and o.profile]
    if stored:
        say(f"Next: spconnect token -p {stored[0]} (spconnect status --all shows every profile)")
    raise typer.Exit(result.exit_code)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    invite_id: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="The invite's id (`spconnect invite list`).", show_default=False
        ),
    ],
    server: ServerOpt = None,
    yes: YesOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Withdraw an invite: its link stops working, and a sealed token not yet pulled is
    deleted on the server (asks first for a connected one).

    Examples:

    \b
        spconnect invite revoke 8GHRbBZrHFI-oV6228z9Qg
        spconnect invite revoke 8GHRbBZrHFI-oV6228z9Qg --server prod --yes
    """
    setup_verbose(verbose)
    _no_profile(ctx)
    ws = Workspace()
    name, current = invites.find_invite(ws, server, invite_id)
    if current.status == "connected":
        confirm_destructive(
            f"invite {invite_id} is connected: the authorization of selling partner "
            f"{current.selling_partner_id} waits to be pulled, and revoking deletes it",
            yes=yes,
            command=f"spconnect invite revoke {invite_id} --yes",
        )
    revoked = invites.revoke_invite(ws, name, invite_id)
    say(f"Revoked invite {revoked.id} on server {name!r} (it was {current.status}).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="invite")
