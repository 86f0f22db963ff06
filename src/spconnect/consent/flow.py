"""The browser login, start to finish: choose how the answer comes back, build the consent
URL, wait for the first valid answer (listener or paste), exchange the code at once and
store the authorization.

A login may also continue a flow Amazon started (``--from-url``, login_uri.py): then the
address the browser is sent to is the continuation of Amazon's Login-URI hop, with this
login's fresh state, instead of a consent URL; everything else is the same.

Plain functions: they return values and raise errors from errors.py; the CLI prints,
prompts and opens the browser around them.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TextIO
from urllib.parse import urlsplit

from spconnect import accounts
from spconnect.amazon.consent import consent_url, make_state
from spconnect.amazon.lwa import FailureContext
from spconnect.amazon.marketplaces import Marketplace, by_id, central_url, resolve_marketplace
from spconnect.consent import login_uri
from spconnect.consent.answers import Authorized, ExpectedAnswer, Refused
from spconnect.consent.listener import LOOPBACK, CallbackListener, ListenerEvent
from spconnect.consent.paste import start_paste_reader
from spconnect.consent.tls import Certificate, loopback_address, self_signed_certificate
from spconnect.consent.tls import user_certificate as load_user_certificate
from spconnect.errors import LoginIncomplete, NotSetUp, UsageError
from spconnect.store.config import AppConfig
from spconnect.tokens import client_secret_of
from spconnect.workspace import Workspace

log = logging.getLogger("spconnect.login")

Mode = Literal["relay", "https", "paste"]
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class LoginRequest:
    profile: str
    app_name: str | None = None
    marketplace: Marketplace | None = None
    vendor: bool = False
    paste_only: bool = False
    port: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    cert: str | None = None
    key: str | None = None
    force: bool = False
    reauth: bool = False
    expect_seller: str | None = None  # any other selling partner: exit 8, nothing stored
    # The Login-URI address of a flow Amazon started (Authorize now, Re-Authorize), as the
    # person gave it: continued instead of a new consent URL (login_uri.py).
    from_url: str | None = None


@dataclass
class ConsentSession:
    request: LoginRequest
    app_name: str
    app: AppConfig
    marketplace: Marketplace
    vendor: bool
    mode: Mode
    consent_url: str  # where the browser goes: the consent URL, or the hop's continuation
    expected: ExpectedAnswer
    deadline: float
    listener: CallbackListener | None = None
    certificate: Certificate | None = None
    events: queue.Queue[ListenerEvent] = field(default_factory=queue.Queue)
    amazon_started: login_uri.LoginUriVisit | None = None

    @property
    def listening_on(self) -> str | None:
        return self.listener.url if self.listener is not None else None

    def start_address(self) -> str | None:
        """A new single-use local address that sends a browser on this machine to the
        consent page and lets it through the Login-URI hop (consent/binding.py); None in
        paste mode, where no listener runs and every answer is typed by the person."""
        return self.listener.start_address() if self.listener is not None else None

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()


def _choose_marketplace(ws: Workspace, request: LoginRequest) -> Marketplace:
    if request.marketplace is not None:
        return request.marketplace
    existing = ws.config.profiles.get(request.profile)
    if existing is not None:
        return by_id(existing.marketplace) or resolve_marketplace(existing.region)
    raise UsageError(
        "--marketplace is required for a new profile: authorization is regional",
        "pass a country code, marketplace id or region, e.g. --marketplace US or --marketplace eu",
    )


def _check_expected_seller(ws: Workspace, request: LoginRequest) -> None:
    """--expect-seller against the account the profile already holds: a contradiction is
    a usage error before anyone goes to Amazon (the answer itself is checked in
    answers.interpret, before its code is exchanged)."""
    existing = ws.config.profiles.get(request.profile)
    known = existing.selling_partner_id if existing else None
    wanted = request.expect_seller
    if wanted is None or known is None or known == wanted:
        return
    if request.reauth:
        raise UsageError(
            f"profile {request.profile!r} belongs to selling partner {known}, so reauth "
            f"cannot renew it as {wanted}",
            f"drop --expect-seller, or use `spconnect login -p OTHER --expect-seller {wanted}`",
        )
    if not request.force:
        raise UsageError(
            f"profile {request.profile!r} holds selling partner {known}, and "
            f"--expect-seller asks for {wanted}",
            f"use another profile (-p NAME), or --force to replace {known}",
        )


def login_app_name(ws: Workspace, request: LoginRequest) -> str:
    """The app this login uses (see _app_name), for checks made before it starts."""
    visit = None if request.from_url is None else login_uri.read_login_uri_address(request.from_url)
    return _app_name(ws, request, visit)


def _app_name(ws: Workspace, request: LoginRequest, visit: login_uri.LoginUriVisit | None) -> str:
    """--app, the profile's app or the only app; for a flow Amazon started without either,
    the app whose application id is in the address."""
    if visit is not None and visit.application_id and request.app_name is None:
        existing = ws.config.profiles.get(request.profile)
        if existing is None or existing.app not in ws.config.apps:
            named = [n for n, a in ws.config.apps.items() if a.app_id == visit.application_id]
            if len(named) == 1:
                return named[0]
    return accounts.resolve_app_name(ws, request.app_name, request.profile)


def _check_amazon_started(
    ws: Workspace, request: LoginRequest, app_name: str, visit: login_uri.LoginUriVisit
) -> None:
    """A flow Amazon started must be this app's, and (for a profile that holds an account)
    this account's: refused before anything starts, with the way out."""
    app = ws.config.app(app_name)
    wanted = visit.application_id
    if wanted is not None and wanted != app.app_id:
        others = [n for n, a in ws.config.apps.items() if a.app_id == wanted]
        raise UsageError(
            f"that address continues Amazon's flow for application {wanted}, but app "
            f"{app_name!r} has application id {app.app_id}",
            f"use --app {others[0]}"
            if others
            else "add that app first (`spconnect app add NAME --app-id ...`)",
        )
    existing = ws.config.profiles.get(request.profile)
    known = existing.selling_partner_id if existing else None
    new = visit.selling_partner_id
    if request.expect_seller is not None and new is not None and new != request.expect_seller:
        raise UsageError(
            f"that address is Amazon's flow for selling partner {new}, and --expect-seller "
            f"asks for {request.expect_seller}",
            "drop --expect-seller, or sign in to Seller Central as that account and start "
            "again from there",
        )
    if known is None or new is None or known == new or (request.force and not request.reauth):
        return
    holders = [n for n, p in ws.config.profiles.items() if p.selling_partner_id == new]
    if request.reauth:
        hint = (
            f"run `spconnect reauth -p {holders[0]} --from-url …` with the same address"
            if holders
            else f"use `spconnect login -p NAME --from-url …` to connect {new} as a new profile"
        )
        raise UsageError(
            f"that address renews selling partner {new}, but profile {request.profile!r} "
            f"belongs to {known}; nothing was changed",
            hint,
        )
    raise UsageError(
        f"that address is Amazon's flow for selling partner {new}, but profile "
        f"{request.profile!r} holds {known}",
        f"use another profile (-p NAME), or --force to replace {known}",
    )


def start_consent(ws: Workspace, request: LoginRequest) -> ConsentSession:
    """Prepare the login: app, marketplace, how the answer comes back, the consent URL
    (or, for a flow Amazon started, the continuation of its Login-URI hop).

    Starts the listener (unless paste-only); the caller must ``close()`` the session.
    """
    # The address first: hostile input is refused before anything else is looked at.
    visit = None if request.from_url is None else login_uri.read_login_uri_address(request.from_url)
    if request.reauth and request.profile not in ws.config.profiles:
        raise NotSetUp(
            f"profile {request.profile!r} is not logged in, so there is nothing to renew",
            f"run `spconnect login -p {request.profile}`"
            + (" --from-url … with the same address" if visit is not None else ""),
        )
    _check_expected_seller(ws, request)
    app_name = _app_name(ws, request, visit)
    app = ws.config.app(app_name)
    marketplace = _choose_marketplace(ws, request)
    vendor = request.vendor or app.kind == "vendor"
    consent_base = central_url(marketplace, vendor)
    if visit is not None:
        _check_amazon_started(ws, request, app_name, visit)
        login_uri.check_target(visit, consent_base)
    client_secret_of(ws, app_name)  # fail before the person spends time on Amazon

    redirect = urlsplit(app.redirect_uri)
    mode: Mode
    listener: CallbackListener | None = None
    certificate: Certificate | None = None
    events: queue.Queue[ListenerEvent] = queue.Queue()
    bind = None if request.paste_only else loopback_address(redirect.hostname or "")
    if request.paste_only:
        mode = "paste"
    elif bind is not None:
        mode = "https"
        if request.cert or request.key:
            if not (request.cert and request.key):
                raise UsageError("--cert and --key go together", "give both PEM files")
            certificate = load_user_certificate(request.cert, request.key)
        else:
            certificate = self_signed_certificate(redirect.hostname or "")
        listener = CallbackListener(
            ExpectedAnswer("", app.redirect_uri, app.draft, consent_base),
            port=request.port or redirect.port or 443,
            path=redirect.path or "/",
            host_name=redirect.hostname or LOOPBACK,
            bind_address=bind,
            tls=certificate.server_context(),
            events=events,
        )
    else:
        mode = "relay"
        listener = CallbackListener(
            ExpectedAnswer("", app.redirect_uri, app.draft, consent_base),
            port=request.port if request.port is not None else app.callback_port,
            events=events,
        )
    if listener is not None:
        listener.start()
    state = make_state(listener.port if listener is not None else app.callback_port)
    expected = ExpectedAnswer(
        state, app.redirect_uri, app.draft, consent_base, expected_seller=request.expect_seller
    )
    if visit is None:
        url = consent_url(
            app_id=app.app_id,
            marketplace=marketplace,
            state=state,
            redirect_uri=app.redirect_uri,
            draft=app.draft,
            vendor=vendor,
        )
    else:
        url = login_uri.continuation(
            visit,
            state=state,
            redirect_uri=app.redirect_uri,
            draft=app.draft,
            consent_base=consent_base,
        )
    if listener is not None:
        listener.begin(expected, url)
    return ConsentSession(
        request=request,
        app_name=app_name,
        app=app,
        marketplace=marketplace,
        vendor=vendor,
        mode=mode,
        consent_url=url,
        expected=expected,
        deadline=time.monotonic() + request.timeout,
        listener=listener,
        certificate=certificate,
        events=events,
        amazon_started=visit,
    )


def amazon_started_note(session: ConsentSession) -> str:
    """What the person is continuing, said before the addresses are printed."""
    visit = session.amazon_started
    assert visit is not None
    account = f" for selling partner {visit.selling_partner_id}" if visit.selling_partner_id else ""
    verb = (
        "renewal of profile " + repr(session.request.profile)
        if session.request.reauth
        else ("authorization into profile " + repr(session.request.profile))
    )
    return f"Continuing the flow Amazon started{account}: {verb}, app {session.app_name!r}."


def wait_for_answer(
    session: ConsentSession,
    *,
    paste_stream: TextIO | None,
    on_note: Callable[[str], None],
    on_tick: Callable[[float], None] | None = None,
) -> Authorized:
    """Block until the first valid answer; raise LoginIncomplete on refusal, timeout or
    (paste-only) end of input. Whichever of listener and paste answers first wins."""

    def input_ended() -> None:
        session.events.put(ListenerEvent(verdict=None, input_ended=True))

    if paste_stream is not None:
        start_paste_reader(paste_stream, session.expected, session.events, on_input_end=input_ended)
    try:
        while True:
            remaining = session.deadline - time.monotonic()
            if remaining <= 0:
                raise LoginIncomplete(
                    f"no answer from Amazon within {session.request.timeout:g} s",
                    "run the login again (--timeout S gives more time); if the browser is on "
                    "another machine, use --paste and paste the address you land on",
                )
            if on_tick is not None:
                on_tick(remaining)
            try:
                event = session.events.get(timeout=min(0.25, remaining))
            except queue.Empty:
                continue
            if event.input_ended:
                if session.listener is None:
                    raise LoginIncomplete(
                        "input ended before an answer was pasted; nothing was stored",
                        "run `spconnect login --paste` again in a terminal and paste the "
                        "address your browser lands on after approving",
                    )
                continue
            if event.note:
                on_note(event.note)
            if isinstance(event.verdict, Refused):
                raise LoginIncomplete(event.verdict.reason, event.verdict.advice)
            if isinstance(event.verdict, Authorized):
                return event.verdict
    finally:
        # The race is over: free the port at once, whoever won.
        session.close()


def finish_login(
    ws: Workspace, session: ConsentSession, answer: Authorized
) -> accounts.LoginResult:
    """Check the account, exchange the code (5-minute life) and store the authorization."""
    request = session.request
    existing = ws.config.profiles.get(request.profile)
    known = existing.selling_partner_id if existing else None
    new = answer.selling_partner_id
    if known and new and known != new:
        if request.reauth:
            raise LoginIncomplete(
                f"Amazon authorized selling partner {new}, but profile {request.profile!r} "
                f"belongs to {known}; nothing was changed",
                f"sign in to Seller Central as {known} and run `spconnect reauth -p "
                f"{request.profile}` again, or use `spconnect login -p OTHER` for {new}",
            )
        if not request.force:
            raise UsageError(
                f"profile {request.profile!r} holds selling partner {known}, and Amazon "
                f"authorized {new}; nothing was changed",
                f"use another profile (-p NAME), or --force to replace {known}",
            )
    client_secret = client_secret_of(ws, session.app_name)
    grant = ws.lwa.exchange_code(
        code=answer.code,
        redirect_uri=session.app.redirect_uri,
        client_id=session.app.client_id,
        client_secret=client_secret,
        context=FailureContext(profile=request.profile, app=session.app_name),
    )
    if not grant.refresh_token:
        raise LoginIncomplete(
            "Amazon exchanged the code but sent no refresh token", "run the login again"
        )
    return accounts.store_authorization(
        ws,
        profile=request.profile,
        app_name=session.app_name,
        marketplace=session.marketplace,
        refresh_token=grant.refresh_token,
        client_secret=client_secret,
        grant=grant,
        selling_partner_id=new,
    )
