"""``spconnect status`` and ``spconnect doctor``: render the overview and the checks.

What they show includes text that came from Amazon or from files on disk (the last
refresh's message, problems, store and marketplace names), so every rendering goes
through the display filter: secrets masked, control characters stripped, and for Rich,
markup escaped so that a name cannot style or link itself (issue 8, sections 2 and 5).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from spconnect import doctor as doctor_checks
from spconnect import status as overview
from spconnect.cli.common import (
    ProfileOpt,
    VerboseOpt,
    out,
    rich_output,
    safe_document,
    setup_verbose,
    shown,
)
from spconnect.errors import NotSetUp
from spconnect.redaction import for_display
from spconnect.workspace import Workspace


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "none cached"
    left = int(timestamp - time.time())
    at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))
    return f"expired at {at}" if left <= 0 else f"valid until {at} ({left // 60} min)"


def _authorization_text(s: overview.ProfileStatus) -> str:
    if not s.self_authorized:
        return _deadline_text(s.authorization, "yearly renewal", "authorized")
    since = (
        f"self-authorized {s.authorization.since}" if s.authorization.since else "self-authorized"
    )
    return (
        f"{since}; Amazon documents no renewal deadline for private apps "
        "(Seller Central > Apps and Services > Manage Your Apps shows its expiry)"
    )


def _deadline_text(deadline: overview.Deadline, what: str, verb: str) -> str:
    if deadline.since is None:
        return "date unknown"
    days = deadline.days_left
    assert days is not None
    state = f"{days} days left" if days >= 0 else f"{-days} days OVERDUE"
    return f"{verb} {deadline.since}; {what} due {deadline.due} ({state})"


def _rows(s: overview.ProfileStatus) -> list[tuple[str, str]]:
    market = (
        f"{s.country} ({s.marketplace_code}, {s.marketplace_id})" if s.country else s.marketplace_id
    )
    storage = s.storage
    if s.storage_secure is not None:
        storage += " (secure)" if s.storage_secure else " (NOT secure)"
    last = s.last_refresh
    last_text = (
        "never"
        if last is None
        else (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last.at))
            + (": ok" if last.ok else f": failed (exit {last.exit_code})")
        )
    )
    return [
        ("app", f"{s.app} ({s.kind or 'app missing'})"),
        ("region", f"{s.region}, consent through {market}" + (" [sandbox]" if s.sandbox else "")),
        (
            "selling partner",
            s.selling_partner_id
            or "unknown (self-authorized tokens do not carry it; a browser login supplies it)",
        ),
        ("storage", storage),
        ("access token", _when(s.access_token_expires_at)),
        ("authorization", _authorization_text(s)),
        ("client secret", _deadline_text(s.client_secret, "180-day rotation", "set")),
        ("last refresh", last_text),
    ]


def _plain(
    statuses: list[overview.ProfileStatus], default: overview.DefaultProfile, every: bool
) -> str:
    lines = [default.describe(overview=every), ""]
    for s in statuses:
        lines.append(f"{s.profile}")
        lines += [f"  {key:<16}{value}" for key, value in _rows(s)]
        if s.check_note:
            lines.append(f"  {'check':<16}{s.check_note}")
        for m in s.marketplaces or []:
            flags = ("participating" if m.participating else "not participating") + (
                ", suspended listings" if m.suspended_listings else ""
            )
            lines.append(
                f"  {'marketplace':<16}{m.name} {m.marketplace_id} {m.country_code} "
                f"{m.currency} ({flags}) store {m.store_name or '-'}"
            )
        for p in s.problems:
            label = "error" if p.severity == "error" else "warning"
            fix = f" -> {p.fix}" if p.fix else ""
            lines.append(f"  {label}: {p.message}{fix}")
        lines.append("")
    return "\n".join(for_display(line, multiline=False) for line in lines)


def _rich(
    statuses: list[overview.ProfileStatus], default: overview.DefaultProfile, every: bool
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    def safe(text: object) -> str:
        return escape(shown(text))

    console = Console()
    console.print(safe(default.describe(overview=every)), highlight=False)
    console.print()
    for s in statuses:
        table = Table(title=f"profile {safe(s.profile)}", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in _rows(s):
            table.add_row(key, safe(value))
        console.print(table)
        if s.marketplaces:
            markets = Table(
                "marketplace",
                "id",
                "country",
                "currency",
                "participating",
                "suspended listings",
                "store",
            )
            for m in s.marketplaces:
                markets.add_row(
                    safe(m.name),
                    safe(m.marketplace_id),
                    safe(m.country_code),
                    safe(m.currency),
                    "yes" if m.participating else "no",
                    "yes" if m.suspended_listings else "no",
                    safe(m.store_name or "-"),
                )
            console.print(markets)
        if s.check_note:
            console.print(f"  {safe(s.check_note)}")
        for p in s.problems:
            style, mark = ("red", "x") if p.severity == "error" else ("yellow", "!")
            console.print(f"  [{style}]{mark} {safe(p.message)}[/{style}]", highlight=False)
            if p.fix:
                console.print(f"    fix: [bold]{safe(p.fix)}[/bold]", highlight=False)
        console.print()


def status(
    all_profiles: Annotated[bool, typer.Option("--all", help="Every profile.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="The JSON document of docs/status-json.md instead of the overview."
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Refresh the token and list the account's marketplaces."),
    ] = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """What is connected, for how long, and what needs attention.

    Exits 0 when all is well, else with the exit code of the worst problem, each shown
    with the command that fixes it.

    Examples:

    \b
        spconnect status                  # the default profile
        spconnect status --all            # every profile
        spconnect -p prod status --check  # ask Amazon: token refresh, marketplaces
        spconnect status --all --json | jq '.problems'
    """
    setup_verbose(verbose)
    ws = Workspace(zero_config=True)  # no config file: the environment's profile
    default = overview.default_profile_of(ws)
    try:
        names = sorted(ws.config.profiles) if all_profiles else [profile]
        if not names:
            raise NotSetUp("no profile is logged in", "run `spconnect login`")
        if not all_profiles:
            ws.config.profile(profile)  # exit 3, with a close name suggested
    except NotSetUp as error:
        known = ", ".join(sorted(ws.config.profiles))
        if known and not all_profiles:
            error.message += f" (profiles: {known}; --all shows them)"
        if as_json:
            # Scripts get the document they parse, with the problem in it (issue 9).
            failure = (None if all_profiles else profile, error)
            empty = overview.to_json([], checked=check, default=default, failure=failure)
            out(json.dumps(safe_document(empty), indent=2) + "\n")
        raise
    statuses = overview.overview(ws, names, check=check)
    if as_json:
        document = safe_document(overview.to_json(statuses, checked=check, default=default))
        out(json.dumps(document, indent=2) + "\n")
    elif rich_output():
        _rich(statuses, default, all_profiles)
    else:
        out(_plain(statuses, default, all_profiles))
    raise typer.Exit(overview.worst_exit_code(statuses))


def doctor(
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the only network check (clock skew).")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check why something cannot work on this machine, and say how to fix it.

    Looks at the config, the keyring, the apps and their callback ports, and the clock.
    Exits 0 when nothing blocks spconnect, else with the exit code of the worst check.

    Examples:

    \b
        spconnect doctor             # every check, the clock against Amazon's included
        spconnect doctor --offline   # no network at all
    """
    setup_verbose(verbose)
    checks = doctor_checks.run_checks(offline=offline)
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}
    lines = []
    for c in checks:
        lines.append(f"[{marks[c.outcome]}] {c.name}: {c.detail}")
        if c.fix and c.outcome in ("warn", "fail"):
            lines.append(f"       fix: {c.fix}")
    code = doctor_checks.worst(checks)
    lines.append(
        "nothing blocks spconnect here"
        if code == 0
        else f"something blocks spconnect here (exit {code})"
    )
    out("\n".join(for_display(line, multiline=False) for line in lines) + "\n")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("doctor")(doctor)
