"""``spconnect app``: register, list, show, remove an SP-API app; rotate its secret."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from spconnect import accounts
from spconnect.cli.common import (
    InsecureStorageOpt,
    VerboseOpt,
    configured_names,
    out,
    read_secret,
    say,
    setup_verbose,
)
from spconnect.cli.confirm import YesOpt, confirm_destructive
from spconnect.errors import StorageUnavailable, UsageError
from spconnect.store.config import (
    DEFAULT_CALLBACK_PORT,
    SECRET_ROTATION_DAYS,
    AppConfig,
    ConfigProblems,
    today_utc,
)
from spconnect.store.secrets import app_key
from spconnect.workspace import Workspace

app = typer.Typer(
    help="""Register and manage SP-API applications.

    An app is registered once, with the ids and URIs from Developer Central and its client
    secret (kept in the keyring), and used by every profile logged in with it.

    Examples:

    \b
        printf %s "$SECRET" | spconnect app add myapp --client-id amzn1.application-oa2-client.… \\
            --app-id amzn1.sp.solution.… --redirect-uri https://example.com/spconnect \\
            --client-secret-stdin
        spconnect app list
        spconnect app show myapp
    """,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root's (cli/main.py)
)


def app_names(incomplete: str = "") -> list[str]:
    """Configured app names starting with ``incomplete`` (shell completion)."""
    return configured_names("apps", incomplete)


NameArg = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        autocompletion=app_names,
        help="The app's short name, e.g. 'myapp'.",
        show_default=False,
    ),
]
SecretCreatedOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-created",
        metavar="YYYY-MM-DD",
        help="The day Developer Central made the secret: its 180-day rotation counts from "
        "it (default: today).",
    ),
]


def parse_day(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date", "use YYYY-MM-DD") from None


def build_app_config(**fields: object) -> AppConfig:
    """Validate app fields as the config file would, as a usage error naming the flag."""
    try:
        return AppConfig.from_fields(fields)
    except ConfigProblems as exc:
        loc, reason = exc.problems[0]
        flag = "--" + loc[0].replace("_", "-") if loc else "a value"
        raise UsageError(f"{flag}: {reason}") from None


@app.command("add")
def add(
    name: NameArg,
    client_id: Annotated[
        str,
        typer.Option(metavar="ID", help="LWA client id (amzn1.application-oa2-client.…)."),
    ],
    app_id: Annotated[
        str, typer.Option(metavar="APP_ID", help="SP-API application id (amzn1.sp.solution.…).")
    ],
    redirect_uri: Annotated[
        str, typer.Option(metavar="URL", help="The https Redirect URI registered for the app.")
    ],
    login_uri: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The https Login URI registered for the app."),
    ] = None,
    draft: Annotated[
        bool,
        typer.Option("--draft/--published", help="Draft apps need version=beta on consent."),
    ] = True,
    vendor: Annotated[bool, typer.Option("--vendor", help="A Vendor Central app.")] = False,
    callback_port: Annotated[
        int, typer.Option(metavar="PORT", help="Loopback port for the consent answer.")
    ] = DEFAULT_CALLBACK_PORT,
    client_secret_stdin: Annotated[
        bool, typer.Option("--client-secret-stdin", help="Read the LWA client secret from stdin.")
    ] = False,
    insecure_storage: InsecureStorageOpt = False,
    secret_created: SecretCreatedOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Register an app: its ids and URIs in config.toml, its client secret in the keyring.

    The values are in Developer Central (Apps and Services > Develop Apps). The secret is
    read from stdin or a hidden prompt, never from the command line.

    Examples:

    \b
        spconnect app add myapp --client-id amzn1.application-oa2-client.… \\
            --app-id amzn1.sp.solution.… --redirect-uri https://example.com/spconnect
        printf %s "$LWA_SECRET" | spconnect app add myapp … --client-secret-stdin \\
            --secret-created 2026-11-02 --published
    """
    setup_verbose(verbose)
    created = parse_day(secret_created, "--secret-created")
    config = build_app_config(
        client_id=client_id,
        app_id=app_id,
        redirect_uri=redirect_uri,
        login_uri=login_uri,
        draft=draft,
        kind="vendor" if vendor else "seller",
        callback_port=callback_port,
    )
    ws = Workspace()
    accounts.check_new_app_name(ws, name)
    secret: str | None = None
    if client_secret_stdin or ws.config.storage != "env" or insecure_storage:
        secret = read_secret(
            from_stdin=client_secret_stdin, what="LWA client secret", flag="--client-secret-stdin"
        )
    accounts.add_app(
        ws, name, config, secret, insecure_storage=insecure_storage, secret_created=created
    )
    where = ws.secrets.description if secret else "the environment (SPCONNECT_CLIENT_SECRET)"
    say(f"Added app {name!r} ({config.kind}, {'draft' if config.draft else 'published'}).")
    say(f"Client secret: {where}.")
    if not ws.secrets.secure:
        say("Warning: secrets are kept in a plain 0600 file, not an encrypted keyring.")
    say(f"Next: spconnect login --app {name}")


@app.command("list")
def list_apps(verbose: VerboseOpt = False) -> None:
    """List configured apps (one per line: name, kind, status, client id, redirect URI).

    Examples:

    \b
        spconnect app list
        spconnect app list | cut -f1     # the names only
    """
    setup_verbose(verbose)
    ws = Workspace()
    if not ws.config.apps:
        say("No apps configured. Add one with `spconnect app add`.")
        return
    for name, entry in sorted(ws.config.apps.items()):
        status = "draft" if entry.draft else "published"
        out(f"{name}\t{entry.kind}\t{status}\t{entry.client_id}\t{entry.redirect_uri}\n")


def _rotation_text(set_at: dt.date | None) -> str:
    if set_at is None:
        return "date unknown (set it with `spconnect app set-secret` to track rotation)"
    age = (today_utc() - set_at).days
    left = SECRET_ROTATION_DAYS - age
    due = "overdue" if left < 0 else f"{left} days before the 180-day rotation"
    return f"set {set_at.isoformat()} ({age} days ago; {due})"


@app.command("show")
def show(name: NameArg, verbose: VerboseOpt = False) -> None:
    """Show an app's settings, where its secret is kept, and the profiles using it.

    Examples:

    \b
        spconnect app show myapp
    """
    setup_verbose(verbose)
    ws = Workspace()
    entry = ws.config.app(name)
    try:
        store = ws.secrets
        stored = store.get(app_key(name)) is not None
        secret_line = f"{'stored' if stored else 'NOT stored'} in {store.description}" + (
            "" if store.secure else " (insecure)"
        )
    except StorageUnavailable as exc:
        secret_line = f"unknown: {exc.message}"
    rows = [
        ("name", name),
        ("kind", entry.kind),
        ("status", "draft (consent adds version=beta)" if entry.draft else "published"),
        ("client id", entry.client_id),
        ("application id", entry.app_id),
        ("redirect uri", entry.redirect_uri),
        ("login uri", entry.login_uri or "(none)"),
        ("callback port", str(entry.callback_port)),
        ("client secret", secret_line),
        ("secret rotation", _rotation_text(entry.secret_set_at)),
        ("storage", ws.config.storage),
        ("profiles", ", ".join(ws.config.profiles_of_app(name)) or "(none)"),
    ]
    width = max(len(k) for k, _ in rows)
    out("".join(f"{k.ljust(width)}  {v}\n" for k, v in rows))


@app.command("remove")
def remove(name: NameArg, yes: YesOpt = False, verbose: VerboseOpt = False) -> None:
    """Remove an app and its stored client secret (asks first when profiles use it).

    Examples:

    \b
        spconnect app remove myapp
        spconnect app remove myapp --yes   # without a terminal, profiles or not
    """
    setup_verbose(verbose)
    ws = Workspace()
    ws.config.app(name)
    dependents = ws.config.profiles_of_app(name)
    if dependents:
        confirm_destructive(
            f"profiles {', '.join(dependents)} use app {name!r} and will get no tokens without it",
            yes=yes,
            command=f"spconnect app remove {name} --yes",
        )
    orphans = accounts.remove_app(ws, name)
    say(f"Removed app {name!r} and its client secret.")
    if orphans:
        say(
            f"Profiles {', '.join(orphans)} used it and cannot get tokens until an app named "
            f"{name!r} is added again; `spconnect logout -p NAME` removes them."
        )


@app.command("set-secret")
def set_secret(
    name: NameArg,
    client_secret_stdin: Annotated[
        bool, typer.Option("--client-secret-stdin", help="Read the new secret from stdin.")
    ] = False,
    secret_created: SecretCreatedOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Store a new client secret (rotation) and record the date; proven first if possible.

    Examples:

    \b
        spconnect app set-secret myapp                          # asks without echo
        printf %s "$NEW_SECRET" | spconnect app set-secret myapp --client-secret-stdin
    """
    setup_verbose(verbose)
    created = parse_day(secret_created, "--secret-created")
    ws = Workspace()
    ws.config.app(name)
    secret = read_secret(
        from_stdin=client_secret_stdin, what="new LWA client secret", flag="--client-secret-stdin"
    )
    change = accounts.set_app_secret(ws, name, secret, secret_created=created)
    if change.verified_with:
        say(f"Amazon accepted the new secret (checked with profile {change.verified_with!r}).")
    else:
        say("Stored without a check: no profile of this app holds a refresh token yet.")
    app_entry = ws.config.app(name)
    say(
        f"Client secret of app {name!r} updated in {ws.secrets.description}; "
        + _rotation_text(app_entry.secret_set_at)
        + "."
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="app")
