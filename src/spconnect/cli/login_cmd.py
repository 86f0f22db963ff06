"""``spconnect login`` and ``spconnect logout``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from spconnect import accounts
from spconnect.amazon.marketplaces import resolve_marketplace
from spconnect.cli.common import ProfileOpt, VerboseOpt, read_secret, say, setup_verbose
from spconnect.errors import UsageError
from spconnect.workspace import Workspace


def login(
    app_name: Annotated[
        str | None, typer.Option("--app", help="The app to authorize (see `app list`).")
    ] = None,
    marketplace: Annotated[
        str | None,
        typer.Option(help="Country code (DE), marketplace id, or region (na, eu, fe)."),
    ] = None,
    refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--refresh-token-stdin",
            help="Import a self-authorized refresh token (Seller Central > Develop Apps > "
            "Authorize app) from stdin.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a profile that holds another account.")
    ] = False,
    insecure_storage: Annotated[
        bool,
        typer.Option("--insecure-storage", help="Keep secrets in a 0600 file, not the keyring."),
    ] = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Authorize an account and store its refresh token in the keyring."""
    setup_verbose(verbose)
    if not refresh_token_stdin:
        # The browser consent flow (relay, local https, paste) is tracked separately; until
        # it lands, say so plainly rather than pretend.
        raise UsageError(
            "browser consent is not available in this version yet",
            "import a self-authorized refresh token: "
            "`spconnect login --refresh-token-stdin --marketplace US < token.txt`",
        )
    resolved = resolve_marketplace(marketplace) if marketplace else None
    ws = Workspace()
    token = read_secret(from_stdin=True, what="refresh token", flag="--refresh-token-stdin")
    result = accounts.import_refresh_token(
        ws,
        profile=profile,
        app_name=app_name,
        marketplace=resolved,
        refresh_token=token,
        force=force,
        insecure_storage=insecure_storage,
    )
    minutes = max(0, int((result.expires_at - time.time()) // 60))
    say(
        f"Logged in profile {result.profile!r} with app {result.app!r} in region "
        f"{result.region} ({result.marketplace.country}); Amazon accepted the token."
    )
    say(f"Refresh token stored in {ws.secrets.description}; access token valid {minutes} min.")
    if result.selling_partner_id is None:
        say(
            "Selling partner id: unknown (self-authorized tokens do not carry it; a browser "
            "login or reauth supplies it)."
        )
    say(f"Next: spconnect token -p {result.profile}")


def logout(
    all_profiles: Annotated[bool, typer.Option("--all", help="Log out every profile.")] = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Remove a profile's refresh token, cached token and settings from this machine."""
    setup_verbose(verbose)
    ws = Workspace()
    names = sorted(ws.config.profiles) if all_profiles else [profile]
    if all_profiles and not names:
        say("No profiles to log out.")
        return
    removed = accounts.logout(ws, names)
    for name in removed:
        say(f"Logged out profile {name!r}: refresh token, cached token and settings removed.")
    say(
        "The authorization itself stays with Amazon until the seller removes the app in "
        "Seller Central (Apps and Services > Manage Your Apps)."
    )


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
