"""Invites (issue 11): a link for a seller who is somewhere else, answered by the
developer's own server (docs/serve-api.md), and the authorizations it brings back.

- ``create_invite``: checks here first what ``pull`` will need (the server's app is
  configured locally with its client secret; a reauth names a profile that holds an
  account), then asks the server for the link.
- ``pull_invites``: for each connected invite, opens the sealed refresh token with this
  CLI's private key, checks that it is for this app, this invite and this seller, proves
  it with one refresh, stores it exactly as ``login`` does (accounts.store_authorization:
  the old token stays until the new one is stored; the access token of the proving
  refresh is cached), and only then tells the server to delete the blob. An invite that
  fails is reported and left on the server, so that nothing is lost.

Plain functions: they return values and raise errors from errors.py; the CLI renders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from spconnect import accounts, servers, tokens
from spconnect.admin_api import (
    MAX_EXPIRES_IN,
    MAX_NOTE_LENGTH,
    MIN_EXPIRES_IN,
    AdminApi,
    Invite,
    InviteRequest,
)
from spconnect.amazon import ids
from spconnect.amazon.lwa import FailureContext
from spconnect.amazon.marketplaces import Marketplace, by_id, central_url, resolve_marketplace
from spconnect.errors import (
    AuthorizationRejected,
    ExitCode,
    LoginIncomplete,
    NotSetUp,
    SpconnectError,
    UsageError,
)
from spconnect.names import is_profile_name
from spconnect.redaction import register_secret, strip_controls
from spconnect.serve import sealing
from spconnect.workspace import Workspace

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_expires(text: str) -> int:
    """``--expires``: N followed by s, m, h or d; 60 s to 30 days (docs/serve-api.md)."""
    value = text.strip().lower()
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.isdigit() or len(number) > 7:
        raise UsageError(
            f"--expires {text.strip()[:20]!r} is not a duration",
            "give a number and a unit: 90m, 12h, 7d (s, m, h or d)",
        )
    seconds = int(number) * _UNITS[unit]
    if not MIN_EXPIRES_IN <= seconds <= MAX_EXPIRES_IN:
        raise UsageError(
            f"--expires {value} is outside what the server accepts: 60 s to 30 days",
            "e.g. --expires 7d",
        )
    return seconds


def check_note(note: str | None) -> str | None:
    """A note the seller reads on the invite page: one line, at most 200 characters."""
    if note is None:
        return None
    if strip_controls(note, multiline=False) != note:
        raise UsageError("--note must be one line without control characters")
    if len(note) > MAX_NOTE_LENGTH:
        raise UsageError(f"--note is {len(note)} characters long; at most {MAX_NOTE_LENGTH}")
    return note or None


@dataclass(frozen=True)
class CreatedInvite:
    server: str
    app_name: str  # the local app whose client secret will prove the token
    invite: Invite
    url: str
    marketplace: Marketplace
    vendor: bool
    notes: list[str]  # what the person should know (a profile that holds an account)


def server_app(ws: Workspace, server: str, api: AdminApi) -> str:
    """The local app that matches the server's: pull needs its client secret."""
    paired = ws.config.server(server)
    info = api.info()
    if info.client_id != paired.client_id:
        raise UsageError(
            f"invite server {server!r} now authorizes for app {info.app!r} ({info.client_id}), "
            f"but was paired for {paired.app!r} ({paired.client_id})",
            f"pair again: `spconnect server add {server} --url {paired.url} --token-stdin --yes`",
        )
    name = servers.app_for_client_id(ws, info.client_id)
    if name is None:
        app_id = f" --app-id {info.app_id}" if info.app_id else " --app-id …"
        raise NotSetUp(
            f"invite server {server!r} authorizes for app {info.app!r} (client id "
            f"{info.client_id}), which is not configured here; `invite pull` needs its "
            "client secret to prove each seller's token",
            f"add it: `spconnect app add NAME --client-id {info.client_id}{app_id} "
            "--redirect-uri URL --client-secret-stdin`",
        )
    tokens.client_secret_of(ws, name)  # exit 3 now rather than at pull
    return name


def create_invite(
    ws: Workspace,
    *,
    server: str | None,
    profile: str,
    marketplace: str | None,
    vendor: bool,
    expires_in: int,
    note: str | None,
    reauth: bool,
) -> CreatedInvite:
    ids.check_profile_name(profile)
    note = check_note(note)
    name = servers.resolve_server_name(ws, server)
    paired = ws.config.server(name)
    api = servers.api_for(ws, name)
    app_name = server_app(ws, name, api)
    existing = ws.config.profiles.get(profile)
    notes: list[str] = []
    expected: str | None = None
    if reauth:
        if existing is None:
            raise NotSetUp(
                f"profile {profile!r} is not logged in here, so a reauth invite has nothing "
                "to renew",
                f"invite without --reauth to connect a new account as {profile!r}",
            )
        if existing.selling_partner_id is None:
            raise UsageError(
                f"profile {profile!r} does not know its selling partner id (a "
                "self-authorized token), so a reauth invite cannot check the account",
                "invite without --reauth; pulling it stores the account's id",
            )
        if ws.config.apps.get(existing.app) is None or (
            ws.config.apps[existing.app].client_id != paired.client_id
        ):
            raise UsageError(
                f"profile {profile!r} uses app {existing.app!r}, and invite server {name!r} "
                f"authorizes for app {paired.app!r} ({paired.client_id})",
                "renew it with `spconnect reauth`, or invite it into another profile",
            )
        expected = existing.selling_partner_id
        market = _reauth_marketplace(profile, existing.region, existing.marketplace, marketplace)
    else:
        if marketplace is None:
            raise UsageError(
                "--marketplace is required: authorization is regional",
                "pass a country code, marketplace id or region, e.g. --marketplace US",
            )
        market = resolve_marketplace(marketplace)
        if existing is not None and existing.selling_partner_id:
            notes.append(
                f"profile {profile!r} holds selling partner {existing.selling_partner_id}; "
                "pulling an authorization of another account into it asks first (--yes skips "
                f"the question); to renew it, use --reauth"
            )
    is_vendor = vendor or ws.config.app(app_name).kind == "vendor"
    central_url(market, is_vendor)  # no Vendor Central for this marketplace: exit 2 now
    invite = api.create_invite(
        InviteRequest(
            key_id=paired.key_id,
            profile=profile,
            marketplace=market.code,
            vendor=is_vendor,
            expires_in=expires_in,
            note=note,
            reauth=reauth,
            expected_selling_partner_id=expected,
        )
    )
    return CreatedInvite(name, app_name, invite, invite.url or "", market, is_vendor, notes)


def _reauth_marketplace(
    profile: str, region: str, marketplace_id: str, requested: str | None
) -> Marketplace:
    if requested is None:
        return by_id(marketplace_id) or resolve_marketplace(region)
    market = resolve_marketplace(requested)
    if market.region != region:
        raise UsageError(
            f"profile {profile!r} is authorized in region {region}; --marketplace "
            f"{requested} is in region {market.region}",
            "leave out --marketplace, or give one of the profile's region",
        )
    return market


def list_invites(ws: Workspace, server: str | None) -> tuple[str, list[Invite]]:
    name = servers.resolve_server_name(ws, server)
    return name, servers.api_for(ws, name).invites()


def find_invite(ws: Workspace, server: str | None, invite_id: str) -> tuple[str, Invite]:
    """One invite of a paired server (without its sealed text)."""
    name = servers.resolve_server_name(ws, server)
    return name, servers.api_for(ws, name).invite(invite_id)[0]


def revoke_invite(ws: Workspace, server: str, invite_id: str) -> Invite:
    return servers.api_for(ws, server).revoke(invite_id)


def invite_link(ws: Workspace, server: str, invite: Invite) -> str | None:
    """The link of a pending invite (docs/serve-api.md: ``<public-url>/i/<id>``)."""
    if invite.status != "pending" or invite.open_enrollment:
        return None
    return f"{ws.config.server(server).public_url}/i/{invite.id}"


# -- pull ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullOutcome:
    invite: Invite
    profile: str | None
    exit_code: int  # ExitCode.OK: stored and the blob deleted on the server
    message: str
    hint: str | None = None
    renewed: bool = False


@dataclass
class PullReport:
    server: str
    outcomes: list[PullOutcome] = field(default_factory=list)
    pulled_before: int = 0
    pending: int = 0
    failed: int = 0
    other_key: int = 0  # connected, sealed to another CLI's key

    @property
    def pulled(self) -> int:
        return sum(1 for o in self.outcomes if o.exit_code == ExitCode.OK)

    @property
    def exit_code(self) -> int:
        """0 when every connected invite was pulled, else the worst code (as status)."""
        return max((o.exit_code for o in self.outcomes), default=ExitCode.OK)


# Called before a pull replaces what a profile holds: returns when agreed, raises
# UsageError (exit 2) when not; the CLI asks on a terminal, or needs --yes.
Confirm = Callable[[str, str], None]


@dataclass(frozen=True)
class _Opened:
    refresh_token: str
    selling_partner_id: str


def pull_invites(
    ws: Workspace,
    server: str | None,
    *,
    force: bool,
    confirm: Confirm,
    on_outcome: Callable[[PullOutcome], None] = lambda outcome: None,
) -> PullReport:
    name = servers.resolve_server_name(ws, server)
    paired = ws.config.server(name)
    api = servers.api_for(ws, name)
    report = PullReport(name)
    waiting: list[Invite] = []
    for invite in api.invites():  # the newest 1000, for the summary
        if invite.status == "pulled":
            report.pulled_before += 1
        elif invite.status == "pending":
            report.pending += 1
        elif invite.status == "failed":
            report.failed += 1
    # Asked for apart: a connected invite older than the newest 1000 is still pulled.
    for invite in api.invites(status="connected"):
        if invite.key_id is not None and invite.key_id != paired.key_id:
            report.other_key += 1
        else:
            waiting.append(invite)
    if not waiting:
        return report
    app_name = servers.app_for_client_id(ws, paired.client_id)
    if app_name is None:
        raise NotSetUp(
            f"invite server {name!r} authorizes for app {paired.app!r} (client id "
            f"{paired.client_id}), which is not configured here; its client secret proves "
            "each token before it is stored",
            f"add it: `spconnect app add NAME --client-id {paired.client_id} --app-id … "
            "--redirect-uri URL --client-secret-stdin`, then pull again",
        )
    client_secret = tokens.client_secret_of(ws, app_name)
    key = servers.private_key(ws, name)
    for invite in reversed(waiting):  # oldest first: a later renewal wins
        try:
            outcome = _pull_one(
                ws, api, invite, app_name, client_secret, key, paired.client_id, force, confirm
            )
        except SpconnectError as error:
            outcome = PullOutcome(
                invite, _profile_name(invite), error.exit_code, error.message, error.hint
            )
        report.outcomes.append(outcome)
        on_outcome(outcome)
    return report


def _profile_name(invite: Invite) -> str | None:
    """The invite's profile; an open-enrollment entry is named by its selling partner id."""
    return invite.profile or invite.selling_partner_id


def _pull_one(
    ws: Workspace,
    api: AdminApi,
    listed: Invite,
    app_name: str,
    client_secret: str,
    private_key: str,
    client_id: str,
    force: bool,
    confirm: Confirm,
) -> PullOutcome:
    invite, sealed = api.invite(listed.id)
    if invite.status != "connected" or not sealed:
        # Pulled or revoked meanwhile (another pull, `invite revoke`): nothing to do.
        return PullOutcome(
            invite, _profile_name(invite), ExitCode.OK, f"no longer waiting ({invite.status})"
        )
    opened = _open(invite, sealed, private_key, client_id)
    profile = _profile_name(invite)
    if profile is None or not is_profile_name(profile):
        raise LoginIncomplete(
            f"invite {invite.id} names no usable profile ({profile!r}); nothing was stored",
            "create a new invite with -p NAME",
        )
    existing = ws.config.profiles.get(profile)
    marketplace = _marketplace_of(invite, existing.marketplace if existing else None)
    renewing = invite.reauth or (
        existing is not None and existing.selling_partner_id == opened.selling_partner_id
    )
    _check_account(ws, invite, profile, opened, marketplace, force, confirm)
    try:
        grant = ws.lwa.refresh(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=opened.refresh_token,
            context=FailureContext(profile=profile, app=app_name),
        )
    except AuthorizationRejected as error:
        raise AuthorizationRejected(
            error.message.split("; the seller")[0]
            + "; the seller removed the app since, or the token was altered; nothing was "
            "stored, and the sealed token stays on the server",
            f"send the seller a new invite (`spconnect invite create -p {profile} ...`)",
        ) from None
    result = accounts.store_authorization(
        ws,
        profile=profile,
        app_name=app_name,
        marketplace=marketplace,
        refresh_token=opened.refresh_token,
        client_secret=client_secret,
        grant=grant,
        selling_partner_id=opened.selling_partner_id,
    )
    verb = "renewed" if renewing else "stored"
    done = (
        f"{verb} profile {profile!r}: selling partner {result.selling_partner_id}, region "
        f"{result.region} ({result.marketplace.country}), app {app_name!r}"
    )
    try:
        api.mark_pulled(invite.id)
    except SpconnectError as error:
        return PullOutcome(
            invite,
            profile,
            error.exit_code,
            f"{done}, but the server was not told, so it still holds the sealed token: "
            + error.message,
            "pull again when the server answers; the profile is stored and works already",
            renewed=renewing,
        )
    return PullOutcome(invite, profile, ExitCode.OK, done, renewed=renewing)


def _open(invite: Invite, sealed: str, private_key: str, client_id: str) -> _Opened:
    """The refresh token of a sealed blob, after checking it belongs to this invite,
    seller and app (docs/serve-api.md, "Sealing")."""
    seller = invite.selling_partner_id
    unusable = "send the seller a new invite; this one stays on the server until revoked"
    if seller is None:
        raise LoginIncomplete(
            f"invite {invite.id} is connected but names no selling partner; nothing was stored",
            unusable,
        )
    try:
        plaintext = sealing.open_sealed(
            private_key, sealed, sealing.invite_context(invite.id, seller, client_id)
        )
    except sealing.SealError as error:
        raise LoginIncomplete(
            f"the sealed token of invite {invite.id} does not open with this CLI's key "
            f"({error}): it was sealed to another key (the server paired again, or another "
            "CLI), or altered; nothing was stored",
            unusable,
        ) from None
    try:
        content = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError, RecursionError):
        content = None
    token = content.get("refresh_token") if isinstance(content, dict) else None
    if not isinstance(token, str):
        raise LoginIncomplete(
            f"the sealed content of invite {invite.id} holds no refresh token; nothing was stored",
            unusable,
        )
    register_secret(token)
    assert isinstance(content, dict)
    for key, wanted in (
        ("invite", invite.id),
        ("selling_partner_id", seller),
        ("client_id", client_id),
    ):
        if content.get(key) != wanted:
            raise LoginIncomplete(
                f"the sealed content of invite {invite.id} is for another {key.replace('_', ' ')}"
                "; nothing was stored",
                unusable,
            )
    try:
        token = ids.check_refresh_token(token)
    except UsageError as error:
        raise LoginIncomplete(
            f"invite {invite.id}: {error.message}; nothing was stored", unusable
        ) from None
    return _Opened(token, seller)


def _marketplace_of(invite: Invite, profile_marketplace: str | None) -> Marketplace:
    for value in (invite.marketplace, profile_marketplace):
        if value:
            try:
                return resolve_marketplace(value)
            except UsageError:
                continue
    raise LoginIncomplete(
        f"invite {invite.id} does not say which marketplace it authorized "
        f"({invite.marketplace!r}); authorization is regional, so nothing was stored",
        "send the seller an invite made with --marketplace",
    )


def _check_account(
    ws: Workspace,
    invite: Invite,
    profile: str,
    opened: _Opened,
    marketplace: Marketplace,
    force: bool,
    confirm: Confirm,
) -> None:
    """The rules of ``login`` and ``reauth`` (design, "Command contract"): a reauth renews
    the account it names and no other; any other pull that would replace what a profile
    holds is agreed to first."""
    existing = ws.config.profiles.get(profile)
    held = existing.selling_partner_id if existing else None
    new = opened.selling_partner_id
    if invite.reauth:
        expected = invite.expected_selling_partner_id
        if expected is not None and expected != new:
            raise LoginIncomplete(
                f"invite {invite.id} renews selling partner {expected}, but Amazon "
                f"authorized {new}; nothing was changed",
                f"ask the seller to sign in as {expected} and open a new reauth invite, "
                f"or invite {new} into another profile",
            )
        if held is not None and held != new:
            raise LoginIncomplete(
                f"invite {invite.id} renews selling partner {new}, but profile {profile!r} "
                f"belongs to {held} now; nothing was changed",
                f"pull it into another profile with a new invite for {new}; "
                f"`spconnect invite create -p {profile} --reauth` renews {held}",
            )
        return
    if existing is None or force:
        return
    if held and held != new:
        what = (
            f"profile {profile!r} holds selling partner {held}, and invite {invite.id} "
            f"brings {new}; storing it replaces {held}"
        )
    else:
        what = accounts.replaced_by_login(ws, profile, marketplace, names_no_account=False) or ""
    if what:
        confirm(what, "spconnect invite pull --yes")
