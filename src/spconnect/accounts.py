"""Changing what is connected: apps, profiles and their secrets.

Each function here keeps two rules of the design: whatever changes a profile's refresh
token or its app's credentials rewrites or deletes the profile's cached access token in
the same step (the fast path trusts the cache), and a failed operation never deletes a
working credential (new secrets are proven first, stored second, old ones dropped last).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from spconnect import tokens
from spconnect.amazon import ids
from spconnect.amazon.lwa import FailureContext, TokenGrant
from spconnect.amazon.marketplaces import Marketplace
from spconnect.errors import (
    AuthorizationRejected,
    LoginIncomplete,
    NotSetUp,
    StorageUnavailable,
    UsageError,
)
from spconnect.store import envvars, history
from spconnect.store.config import (
    AppConfig,
    Config,
    ProfileConfig,
    editing_config,
    now_utc,
    today_utc,
)
from spconnect.store.secrets import app_key, profile_key
from spconnect.workspace import Workspace


def use_insecure_storage(ws: Workspace) -> None:
    """``--insecure-storage`` switches this config to the 0600 file store, explicitly."""
    if ws.config.storage != "file":
        with editing_config() as config:
            config.storage = "file"
        ws.use_config(config)


@contextlib.contextmanager
def replacing_secrets(ws: Workspace, values: Mapping[str, str]) -> Iterator[None]:
    """Store ``values`` for the block that records them in config.toml; if storing or the
    block fails, the store gets back what it held, so a failed operation leaves the
    previous credentials working (the original failure is the one raised)."""
    previous = {key: ws.secrets.get(key) for key in values}
    try:
        for key, value in values.items():
            ws.secrets.set(key, value)
        yield
    except BaseException:
        for key, before in previous.items():
            with contextlib.suppress(Exception):
                if before is None:
                    ws.secrets.delete(key)
                else:
                    ws.secrets.set(key, before)
        raise


def check_new_app_name(ws: Workspace, name: str) -> None:
    """Refuse a malformed name or one already taken (before any secret is asked for)."""
    ids.check_profile_name(name)
    if name == envvars.ZERO_CONFIG_APP:
        raise UsageError(
            f"the app name {name!r} is kept for zero-config mode (the app the "
            f"{envvars.CLIENT_ID} variable describes)",
            "choose another name",
        )
    if name in ws.config.apps:
        raise UsageError(
            f"app {name!r} already exists",
            f"remove it first (`spconnect app remove {name}`) or choose another name",
        )


def add_app(
    ws: Workspace,
    name: str,
    app: AppConfig,
    client_secret: str | None,
    *,
    insecure_storage: bool = False,
    secret_created: dt.date | None = None,
) -> None:
    """``secret_created``: the day the secret was made in Developer Central, which starts
    its 180-day rotation clock (amazon.md section 7); default today."""
    check_new_app_name(ws, name)
    created = check_secret_created(secret_created)
    if insecure_storage:
        use_insecure_storage(ws)
    if client_secret is not None:
        client_secret = ids.check_client_secret(client_secret)
        ws.secrets.set(app_key(name), client_secret)
        app = dataclasses.replace(app, secret_set_at=created)
    with editing_config() as config:
        config.apps[name] = app
    ws.use_config(config)
    for profile in config.profiles_of_app(name):
        tokens.invalidate_cached(ws, profile)


def remove_app(ws: Workspace, name: str) -> list[str]:
    """Remove an app and its secret; returns the profiles that now have no app."""
    ws.config.app(name)
    orphans = ws.config.profiles_of_app(name)
    for profile in orphans:
        tokens.invalidate_cached(ws, profile)
    tokens.forget_grantless(name)
    if ws.secrets.writable:
        ws.secrets.delete(app_key(name))
    with editing_config() as config:
        config.apps.pop(name, None)
    ws.use_config(config)
    return orphans


@dataclass(frozen=True)
class SecretChange:
    verified_with: str | None  # the profile whose refresh proved the secret, if any


def check_secret_created(day: dt.date | None) -> dt.date:
    """The creation day of a client secret: today by default, never in the future."""
    today = today_utc()
    if day is None:
        return today
    if day > today:
        raise UsageError(
            f"--secret-created {day.isoformat()} is in the future",
            "give the day Developer Central made the secret (YYYY-MM-DD)",
        )
    return day


def set_app_secret(
    ws: Workspace, name: str, client_secret: str, *, secret_created: dt.date | None = None
) -> SecretChange:
    """Rotate an app's client secret; prove it with one refresh when a profile exists.

    A rejected secret leaves the old one in place (design, "Security rules").
    """
    app = ws.config.app(name)
    client_secret = ids.check_client_secret(client_secret)
    created = check_secret_created(secret_created)
    profiles = ws.config.profiles_of_app(name)
    proof: tuple[str, tokens.Credentials, TokenGrant] | None = None
    for profile in profiles:
        try:
            creds = tokens.credentials(ws, profile)
        except NotSetUp:
            continue
        grant = ws.lwa.refresh(
            client_id=app.client_id,
            client_secret=client_secret,
            refresh_token=creds.refresh_token,
            context=FailureContext(profile=profile, app=name),
        )
        proof = (profile, creds, grant)
        break
    ws.secrets.set(app_key(name), client_secret)
    with editing_config() as config:
        config.apps[name].secret_set_at = created
    ws.use_config(config)
    for profile in profiles:
        tokens.invalidate_cached(ws, profile)
    if proof is None:
        return SecretChange(verified_with=None)
    profile, creds, grant = proof
    tokens.write_cached(ws, profile, tokens.profile_entry(ws, profile, creds, grant))
    # The proof is a successful refresh: `status` must stop reporting the rejected secret.
    history.record_refresh(profile, ok=True, clock_skew=grant.clock_skew)
    return SecretChange(verified_with=profile)


@dataclass(frozen=True)
class LoginResult:
    profile: str
    app: str
    region: str
    marketplace: Marketplace
    selling_partner_id: str | None
    expires_at: float


def resolve_app_name(ws: Workspace, requested: str | None, profile: str | None) -> str:
    """The app to log in with: --app, the profile's current app, or the only app.

    ``profile`` None: the command concerns an app, not an account (`relay-page`), so a
    profile's app is no reason to pick one of several.
    """
    if requested:
        ws.config.app(requested)
        return requested
    existing = ws.config.profiles.get(profile) if profile is not None else None
    if existing is not None and existing.app in ws.config.apps:
        return existing.app
    if len(ws.config.apps) == 1:
        return next(iter(ws.config.apps))
    if not ws.config.apps:
        raise NotSetUp(
            "no app is configured yet",
            "add one: `spconnect app add NAME --client-id ... --app-id ... --redirect-uri ...`",
        )
    raise UsageError(
        f"several apps are configured ({', '.join(sorted(ws.config.apps))})",
        "choose one with --app NAME",
    )


def replaced_by_login(
    ws: Workspace, profile: str, marketplace: Marketplace | None, *, names_no_account: bool
) -> str | None:
    """What logging in to ``profile`` would replace, for a person to agree to first
    (issue 9, item 12); None when nothing is at stake.

    At stake: an authorization for another region; and, for a token that names no
    account (self-authorized, or from the environment), the account the profile holds.
    A browser login learns the account only from Amazon's answer (cli/login_cmd.py).
    """
    existing = ws.config.profiles.get(profile)
    if existing is None:
        return None
    held = existing.selling_partner_id
    holding = f"selling partner {held}" if held else "an authorization"
    if marketplace is not None and marketplace.region != existing.region:
        return (
            f"profile {profile!r} holds {holding} in region {existing.region}; logging in "
            f"for region {marketplace.region} ({marketplace.country}) replaces it"
        )
    if names_no_account and held:
        return (
            f"profile {profile!r} holds selling partner {held}, and a self-authorized token "
            "does not say which account it belongs to; storing it replaces that one"
        )
    return None


def store_authorization(
    ws: Workspace,
    *,
    profile: str,
    app_name: str,
    marketplace: Marketplace,
    refresh_token: str,
    client_secret: str,
    grant: TokenGrant,
    selling_partner_id: str | None,
) -> LoginResult:
    """Commit a proven authorization: validate everything, then write it as one unit.

    Nothing is written until every value has been checked (a malformed selling partner id
    in Amazon's answer fails here, before the keyring is touched). Then the old cache entry
    goes first (so no stale token can outlive what follows), the refresh token second, the
    profile third; if the profile cannot be saved the keyring gets its previous value back,
    so a failed login leaves the previous state intact (design, "Security rules").
    ``client_secret`` is the one that proved the token (the caller holds it already, so
    the keyring is not asked twice).
    """
    app = ws.config.app(app_name)
    ids.check_profile_name(profile)
    if selling_partner_id is not None:
        try:
            selling_partner_id = ids.check_selling_partner_id(selling_partner_id)
        except UsageError as error:
            raise LoginIncomplete(
                f"Amazon's answer is not usable: {error.message}; nothing was stored",
                "start the login again; if it repeats, the address was tampered with",
            ) from None
    refresh_token = ids.check_refresh_token(refresh_token)

    def profile_entry_in(config: Config) -> ProfileConfig:
        previous = config.profiles.get(profile)
        return ProfileConfig(
            app=app_name,
            region=marketplace.region,
            marketplace=marketplace.marketplace_id,
            # A self-authorized token has no selling partner id; keep a known one.
            selling_partner_id=selling_partner_id
            or (previous.selling_partner_id if previous and previous.app == app_name else None),
            authorized_at=now_utc(),
            self_authorized=selling_partner_id is None,
            sandbox=previous.sandbox if previous else False,
        )

    profile_entry_in(ws.config)  # validated now; rebuilt under the config lock below
    key = profile_key(profile)
    # storage = "env" is read-only: the token must be the one the environment holds for
    # this profile already (login_from_environment); for any other, the store's refusal
    # names the variable to set, before anything changes.
    read_only = not ws.secrets.writable
    if read_only and ws.secrets.get(key) != refresh_token:
        ws.secrets.set(key, refresh_token)
    tokens.invalidate_cached(ws, profile)
    with (
        replacing_secrets(ws, {} if read_only else {key: refresh_token}),
        editing_config() as config,
    ):
        config.profiles[profile] = profile_entry_in(config)
    ws.use_config(config)
    creds = tokens.Credentials(
        profile=config.profiles[profile],
        app_name=app_name,
        app=app,
        client_secret=client_secret,
        refresh_token=refresh_token,
    )
    # The authorization is stored; the new access token is a bonus. If the cache cannot
    # be written, the old entry is already gone and `spconnect token` refreshes (and says
    # what is wrong with the cache), so the login still reports success.
    with contextlib.suppress(StorageUnavailable):
        tokens.write_cached(ws, profile, tokens.profile_entry(ws, profile, creds, grant))
    history.record_refresh(profile, ok=True, clock_skew=grant.clock_skew)
    return LoginResult(
        profile=profile,
        app=app_name,
        region=marketplace.region,
        marketplace=marketplace,
        selling_partner_id=config.profiles[profile].selling_partner_id,
        expires_at=grant.expires_at,
    )


def import_refresh_token(
    ws: Workspace,
    *,
    profile: str,
    app_name: str | None,
    marketplace: Marketplace | None,
    refresh_token: str,
    force: bool = False,
    insecure_storage: bool = False,
) -> LoginResult:
    """Self-authorization (amazon.md section 8): check a pasted refresh token with one
    refresh, then store it. Nothing is stored when the refresh fails."""
    ids.check_profile_name(profile)
    refresh_token = ids.check_refresh_token(refresh_token)
    app_name = resolve_app_name(ws, app_name, profile)
    app = ws.config.app(app_name)
    existing = ws.config.profiles.get(profile)
    if marketplace is None:
        if existing is None:
            raise UsageError(
                "--marketplace is required: a refresh token is regional and does not say "
                "which region it is for",
                "pass the country code, marketplace id or region, e.g. --marketplace US",
            )
        from spconnect.amazon.marketplaces import by_id, resolve_marketplace

        marketplace = by_id(existing.marketplace) or resolve_marketplace(existing.region)
    if existing is not None and existing.selling_partner_id and not force:
        raise UsageError(
            f"profile {profile!r} holds selling partner {existing.selling_partner_id}, and a "
            "self-authorized token does not say which account it belongs to",
            "use another profile (-p NAME), or --force to replace it",
        )
    if insecure_storage:
        use_insecure_storage(ws)
    client_secret = tokens.client_secret_of(ws, app_name)
    try:
        grant = ws.lwa.refresh(
            client_id=app.client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            context=FailureContext(profile=profile, app=app_name),
        )
    except AuthorizationRejected as exc:
        raise AuthorizationRejected(
            exc.message.split("; the seller")[0] + "; the token was revoked, mistyped, or "
            f"belongs to another app than {app_name!r} or another region than "
            f"{marketplace.region}",
            "generate a new one (Seller Central > Develop Apps > Authorize app) and try again",
        ) from None
    return store_authorization(
        ws,
        profile=profile,
        app_name=app_name,
        marketplace=marketplace,
        refresh_token=refresh_token,
        client_secret=client_secret,
        grant=grant,
        selling_partner_id=None,
    )


def unknown_profile(ws: Workspace, name: str, consequence: str) -> NotSetUp:
    """The error for a profile name that is not in the config: the names there are, and
    the nearest one (a typo is likelier than a wish to log in)."""
    import difflib

    known = sorted(ws.config.profiles)
    if not known:
        return NotSetUp(
            f"no profile named {name!r}, {consequence}: there are no profiles here",
            "`spconnect login -p NAME` creates one",
        )
    close = difflib.get_close_matches(name, known, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return NotSetUp(
        f"no profile named {name!r}, {consequence} (profiles here: {', '.join(known)})",
        f"{guess}`spconnect status --all` shows each of them",
    )


@dataclass(frozen=True)
class EnvironmentLogin:
    result: LoginResult
    variable: str  # the environment variable that holds the profile's refresh token


def login_from_environment(
    ws: Workspace,
    *,
    profile: str,
    app_name: str | None,
    marketplace: Marketplace | None,
    force: bool = False,
) -> EnvironmentLogin:
    """``storage = "env"`` (issue 9, item 5): set up a profile whose refresh token lives in
    the environment (SPCONNECT_REFRESH_TOKEN_<PROFILE>, else SPCONNECT_REFRESH_TOKEN).
    The token is proven with one refresh, as an imported one is; then only the profile is
    written to config.toml. Nothing is written when the refresh fails."""
    import os

    from spconnect.store import envvars

    ids.check_profile_name(profile)
    own = envvars.refresh_token_variable(profile)
    token = envvars.refresh_token(profile)
    if token is None:
        raise NotSetUp(
            f'storage = "env", and no refresh token for profile {profile!r} is in the '
            f"environment: neither {own} nor {envvars.REFRESH_TOKEN} is set",
            f"set {own} to the profile's refresh token (Seller Central > Develop Apps > "
            "Authorize app) and run this again",
        )
    # Which variable answered: the profile's own wins over the shared one.
    has_own = envvars.refresh_token(profile, {own: os.environ.get(own, "")}) is not None
    variable = own if has_own else envvars.REFRESH_TOKEN
    try:
        result = import_refresh_token(
            ws,
            profile=profile,
            app_name=app_name,
            marketplace=marketplace,
            refresh_token=token,
            force=force,
        )
    except AuthorizationRejected as error:
        raise AuthorizationRejected(
            f"{variable}: {error.message}",
            f"put a valid refresh token in {variable} (Seller Central > Develop Apps > "
            "Authorize app generates one) and run this again",
        ) from None
    return EnvironmentLogin(result, variable)


def logout(ws: Workspace, profiles: list[str]) -> list[str]:
    """Remove profiles' refresh tokens, caches and config entries; returns the removed."""
    for name in profiles:
        if name not in ws.config.profiles:
            raise unknown_profile(ws, name, "so there is nothing to log out")
    for name in profiles:
        tokens.invalidate_cached(ws, name)
        history.forget(name)
        if ws.secrets.writable:
            ws.secrets.delete(profile_key(name))
    with editing_config() as config:
        for name in profiles:
            config.profiles.pop(name, None)
    ws.use_config(config)
    return profiles
