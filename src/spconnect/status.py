"""The account overview behind ``spconnect status``: what is connected, for how long, and
what needs attention, each problem with the command that fixes it.

Without ``check`` nothing here touches the network. Deadlines come from amazon.md: a
public app's authorization must be renewed every 365 days (section 6), an app's client
secret rotated every 180 days (section 7).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field

from spconnect import tokens
from spconnect.amazon import spapi
from spconnect.amazon.endpoints import spapi_endpoint
from spconnect.amazon.marketplaces import by_id
from spconnect.errors import ExitCode, SpconnectError
from spconnect.store import default_profile, envvars, files, history, paths
from spconnect.store.config import (
    AUTHORIZATION_RENEWAL_DAYS,
    SECRET_ROTATION_DAYS,
    today_utc,
)
from spconnect.store.secrets import app_key, profile_key
from spconnect.workspace import Workspace

RENEWAL_WARNING_DAYS = 30
ROTATION_WARNING_DAYS = 14
# getMarketplaceParticipations allows about one call a minute (amazon.md section 9).
SELLERS_CACHE_SECONDS = 90


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" (sets the exit code) or "warning" (shown only)
    exit_code: int
    message: str
    fix: str | None


@dataclass
class Deadline:
    since: dt.date | None
    due: dt.date | None
    days_left: int | None


@dataclass
class ProfileStatus:
    profile: str
    app: str
    kind: str | None
    region: str
    marketplace_id: str
    marketplace_code: str | None
    country: str | None
    selling_partner_id: str | None
    sandbox: bool
    storage: str
    storage_secure: bool | None
    refresh_token_stored: bool | None
    access_token_expires_at: float | None
    authorization: Deadline
    self_authorized: bool  # a private app's token from Seller Central (amazon.md section 8)
    client_secret: Deadline
    last_refresh: history.RefreshOutcome | None
    problems: list[Problem] = field(default_factory=list)
    marketplaces: list[spapi.Participation] | None = None
    check_note: str | None = None

    def error(self, code: int, message: str, fix: str | None) -> None:
        self.problems.append(Problem("error", code, message, fix))

    def warning(self, message: str, fix: str | None = None) -> None:
        self.problems.append(Problem("warning", 0, message, fix))


@dataclass(frozen=True)
class DefaultProfile:
    """The profile commands use without -p, and why (store/default_profile.py)."""

    name: str
    source: str  # default_profile.FROM_ENVIRONMENT, FROM_SWITCH or FROM_BUILTIN
    logged_in: bool

    def describe(self, *, overview: bool = True) -> str:
        """One line for a person: "Default profile: eu (chosen with `spconnect switch`)",
        and in an ``overview`` of every profile, that it is not logged in (a status of one
        named profile has no use for that)."""
        why = {
            default_profile.FROM_ENVIRONMENT: f"from ${default_profile.ENVIRONMENT_VARIABLE}",
            default_profile.FROM_SWITCH: "chosen with `spconnect switch`",
        }.get(self.source, "the built-in name; `spconnect switch NAME` chooses another")
        line = f"Default profile: {self.name} ({why})"
        if not self.logged_in and overview:
            line += f"; it is not logged in: `spconnect login -p {self.name}`"
            if self.source == default_profile.FROM_SWITCH:
                line += " or `spconnect switch NAME`"
        return line


def default_profile_of(ws: Workspace) -> DefaultProfile:
    name, source = default_profile.resolve()
    return DefaultProfile(name, source, name in ws.config.profiles)


def _deadline(since: dt.date | None, days: int | None) -> Deadline:
    if since is None or days is None:
        return Deadline(since, None, None)
    due = since + dt.timedelta(days=days)
    return Deadline(since, due, (due - today_utc()).days)


def profile_status(ws: Workspace, name: str, *, checking: bool = False) -> ProfileStatus:
    profile = ws.config.profile(name)
    app = ws.config.apps.get(profile.app)
    marketplace = by_id(profile.marketplace)
    entry = tokens.read_cached(ws, name) if ws.config.token_cache == "file" else None
    status = ProfileStatus(
        profile=name,
        app=profile.app,
        kind=app.kind if app else None,
        region=profile.region,
        marketplace_id=profile.marketplace,
        marketplace_code=marketplace.code if marketplace else None,
        country=marketplace.country if marketplace else None,
        selling_partner_id=profile.selling_partner_id,
        sandbox=profile.sandbox,
        storage=ws.config.storage,
        storage_secure=None,
        refresh_token_stored=None,
        access_token_expires_at=float(entry["expires_at"]) if entry else None,  # type: ignore[arg-type]
        # amazon.md section 6: the 365-day renewal is documented for public apps only;
        # a self-authorized token gets no deadline from a date (Seller Central shows its
        # expiry under Manage Your Apps).
        authorization=_deadline(
            profile.authorized_at.date() if profile.authorized_at else None,
            None if profile.is_self_authorized else AUTHORIZATION_RENEWAL_DAYS,
        ),
        self_authorized=profile.is_self_authorized,
        client_secret=_deadline(app.secret_set_at if app else None, SECRET_ROTATION_DAYS),
        last_refresh=history.last_refresh(name),
    )
    if app is None:
        status.error(
            ExitCode.NOT_SET_UP,
            f"app {profile.app!r} is not configured",
            f"spconnect app add {profile.app} --client-id … --app-id … --redirect-uri …",
        )
    _check_storage(ws, status)
    _check_deadlines(status)
    if not checking:
        # With --check the refresh made now speaks instead of the recorded one (once).
        _check_last_refresh(status)
    return status


def _check_storage(ws: Workspace, status: ProfileStatus) -> None:
    try:
        store = ws.secrets
    except SpconnectError as error:
        status.storage = "unavailable"
        status.error(error.exit_code, error.message, "spconnect doctor")
        return
    status.storage = store.description
    status.storage_secure = store.secure
    try:
        status.refresh_token_stored = bool(store.get(profile_key(status.profile)))
        secret_stored = bool(store.get(app_key(status.app)))
    except SpconnectError as error:
        status.error(error.exit_code, error.message, "spconnect doctor")
        return
    if not status.refresh_token_stored:
        status.error(
            ExitCode.NOT_SET_UP,
            f"no refresh token is stored ({store.description})",
            f"spconnect login -p {status.profile}",
        )
    if status.kind is not None and not secret_stored:
        status.error(
            ExitCode.NOT_SET_UP,
            f"app {status.app!r} has no client secret stored",
            f"spconnect app set-secret {status.app}",
        )
    if not store.secure:
        status.warning(
            f"secrets are kept in {store.description}, not an encrypted keyring",
            "run a Secret Service (see `spconnect doctor`) and log in again",
        )


def _check_deadlines(status: ProfileStatus) -> None:
    auth = status.authorization
    if auth.days_left is not None:
        if auth.days_left < 0:
            status.error(
                ExitCode.AUTHORIZATION_REJECTED,
                f"the authorization is {-auth.days_left} days past its yearly renewal "
                f"(due {auth.due}); Amazon stops honouring it for public apps",
                f"spconnect reauth -p {status.profile}",
            )
        elif auth.days_left <= RENEWAL_WARNING_DAYS:
            status.warning(
                f"the yearly authorization renewal is due in {auth.days_left} days ({auth.due})",
                f"spconnect reauth -p {status.profile}",
            )
    secret = status.client_secret
    if secret.days_left is not None:
        if secret.days_left < 0:
            status.error(
                ExitCode.CLIENT_REJECTED,
                f"the client secret of app {status.app!r} is {-secret.days_left} days past "
                f"its 180-day rotation (due {secret.due}); Amazon rejects it",
                f"rotate it in Developer Central, then `spconnect app set-secret {status.app}`",
            )
        elif secret.days_left <= ROTATION_WARNING_DAYS:
            status.warning(
                f"the client secret of app {status.app!r} must be rotated in "
                f"{secret.days_left} days ({secret.due})",
                f"rotate it in Developer Central, then `spconnect app set-secret {status.app}`",
            )
    elif status.kind is not None and status.app != envvars.ZERO_CONFIG_APP:
        # (zero-config mode keeps no record: the secret is only ever the variable's)
        status.warning(
            f"the day the client secret of app {status.app!r} was made is unknown",
            f"spconnect app set-secret {status.app}",
        )


def renewal_fix(status: ProfileStatus) -> str:
    """How to renew this profile's authorization: the consent flow again, or for a private
    app's self-authorized token a new one from Seller Central (amazon.md section 8)."""
    if status.self_authorized:
        return (
            "generate a new refresh token in Seller Central (Apps and Services > Develop Apps "
            f"> Authorize app), then `spconnect login -p {status.profile} --refresh-token-stdin`"
        )
    return f"spconnect reauth -p {status.profile}"


def _check_last_refresh(status: ProfileStatus) -> None:
    last = status.last_refresh
    if last is None or last.ok:
        return
    fixes = {
        ExitCode.AUTHORIZATION_REJECTED: renewal_fix(status),
        ExitCode.CLIENT_REJECTED: f"spconnect app set-secret {status.app}",
    }
    if last.exit_code in fixes:
        status.error(
            last.exit_code, f"the last token refresh failed: {last.message}", fixes[last.exit_code]
        )
    else:
        status.warning(
            f"the last token refresh failed: {last.message}",
            f"spconnect token -p {status.profile} --force-refresh",
        )


def _sellers_cache_path(profile: str) -> str:
    return os.path.join(paths.cache_dir(), "sellers", f"{profile}.json")


def _cached_participations(profile: str) -> tuple[list[spapi.Participation], float] | None:
    try:
        with open(_sellers_cache_path(profile), encoding="utf-8") as handle:
            data = json.load(handle)
        age = time.time() - float(data["fetched_at"])
        if 0 <= age < SELLERS_CACHE_SECONDS:
            return [spapi.Participation(**item) for item in data["items"]], age
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def check_profile(ws: Workspace, status: ProfileStatus) -> None:
    """``status --check``: refresh through the locked cache, then the Sellers API.

    When the last refresh failed, the check asks Amazon again rather than trust a cached
    token beside a stale failure: the user may have fixed the cause since (issue 8).
    """
    last = history.last_refresh(status.profile)
    try:
        token = tokens.access_token(
            ws, status.profile, min_ttl=60, force_refresh=last is not None and not last.ok
        )
    except SpconnectError as error:
        fix = {
            ExitCode.AUTHORIZATION_REJECTED: renewal_fix(status),
            ExitCode.CLIENT_REJECTED: f"spconnect app set-secret {status.app}",
        }.get(error.exit_code, error.hint)
        status.error(error.exit_code, error.message, fix)
        status.last_refresh = history.last_refresh(status.profile)
        return
    status.access_token_expires_at = token.expires_at
    status.last_refresh = history.last_refresh(status.profile)
    if status.kind == "vendor":
        status.check_note = "vendor tokens cannot call the Sellers API; the token refresh worked"
        return
    cached = _cached_participations(status.profile)
    if cached is not None:
        status.marketplaces, age = cached
        status.check_note = (
            f"marketplaces from {age:.0f} s ago (the Sellers API allows about one call a minute)"
        )
        return
    try:
        found = spapi.marketplace_participations(
            spapi_endpoint(status.region, status.sandbox),
            token.access_token,
            profile=status.profile,
        )
    except SpconnectError as error:
        status.error(error.exit_code, error.message, error.hint)
        return
    status.marketplaces = found
    document = {"fetched_at": time.time(), "items": [p.__dict__ for p in found]}
    files.write_private(_sellers_cache_path(status.profile), json.dumps(document).encode())


def overview(ws: Workspace, names: list[str], *, check: bool = False) -> list[ProfileStatus]:
    result = []
    for name in names:
        status = profile_status(ws, name, checking=check)
        if check:
            if any(p.exit_code == ExitCode.STORAGE_UNAVAILABLE for p in status.problems):
                _check_last_refresh(status)  # the check cannot run: the record is all we have
            else:
                check_profile(ws, status)
        result.append(status)
    return result


def worst_exit_code(statuses: list[ProfileStatus]) -> int:
    """0 when all is well, else the highest exit code among the errors (as gh auth
    status exits non-zero on a problem)."""
    codes = [p.exit_code for s in statuses for p in s.problems if p.severity == "error"]
    return max(codes, default=ExitCode.OK)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _deadline_json(deadline: Deadline, since_key: str) -> dict[str, object]:
    return {
        since_key: deadline.since.isoformat() if deadline.since else None,
        "due": deadline.due.isoformat() if deadline.due else None,
        "days_left": deadline.days_left,
    }


def to_json(
    statuses: list[ProfileStatus],
    *,
    checked: bool,
    default: DefaultProfile,
    failure: tuple[str | None, SpconnectError] | None = None,
) -> dict[str, object]:
    """The ``status --json`` document; its schema is documented in docs/status-json.md.

    ``failure``: the profile asked for (or None) and why no profile could be shown (none
    logged in, an unknown name); the document then has no profiles and that one problem.
    """
    now = time.time()
    profiles = []
    for s in statuses:
        last = s.last_refresh
        item: dict[str, object] = {
            "profile": s.profile,
            "default": s.profile == default.name,
            "app": s.app,
            "kind": s.kind,
            "region": s.region,
            "marketplace": {
                "id": s.marketplace_id,
                "code": s.marketplace_code,
                "country": s.country,
            },
            "selling_partner_id": s.selling_partner_id,
            "sandbox": s.sandbox,
            "storage": {"backend": s.storage, "secure": s.storage_secure},
            "refresh_token_stored": s.refresh_token_stored,
            "access_token": {
                "expires_at": _iso(s.access_token_expires_at),
                "expires_in": None
                if s.access_token_expires_at is None
                else max(0, int(s.access_token_expires_at - now)),
            },
            "authorization": {
                **_deadline_json(s.authorization, "authorized_on"),
                "self_authorized": s.self_authorized,
            },
            "client_secret": _deadline_json(s.client_secret, "set_on"),
            "last_refresh": None
            if last is None
            else {
                "at": _iso(last.at),
                "ok": last.ok,
                "exit_code": last.exit_code,
                "message": last.message,
            },
            "problems": [p.__dict__ for p in s.problems],
        }
        if checked:
            item["check"] = {
                "note": s.check_note,
                "marketplaces": None
                if s.marketplaces is None
                else [p.__dict__ for p in s.marketplaces],
            }
        profiles.append(item)
    code = worst_exit_code(statuses)
    problems = [{"profile": s.profile, **p.__dict__} for s in statuses for p in s.problems]
    if failure is not None:
        name, error = failure
        code = max(code, error.exit_code)
        problem = Problem("error", error.exit_code, error.message, error.hint)
        problems.append({"profile": name, **problem.__dict__})
    return {
        "schema": 1,
        "generated_at": _iso(now),
        "ok": code == ExitCode.OK,
        "exit_code": code,
        "default_profile": {
            "name": default.name,
            "source": default.source,
            "logged_in": default.logged_in,
        },
        "profiles": profiles,
        "problems": problems,
    }
