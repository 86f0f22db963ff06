"""``spconnect login``, ``reauth``, ``logout`` and ``relay-page``."""

from __future__ import annotations

import dataclasses
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, TextIO, cast

import typer

from spconnect import accounts
from spconnect.amazon.marketplaces import Marketplace, resolve_marketplace
from spconnect.cli.common import (
    ForceOpt,
    InsecureStorageOpt,
    PlainHelpCommand,
    ProfileOpt,
    VerboseOpt,
    read_secret,
    say,
    setup_verbose,
    stdin_is_terminal,
)
from spconnect.cli.confirm import YesOpt, confirm_destructive
from spconnect.consent import flow
from spconnect.consent.answers import Authorized
from spconnect.consent.paste import PASTE_ONLY_PROMPT, PROMPT
from spconnect.errors import LoginIncomplete, UsageError
from spconnect.redaction import for_display
from spconnect.store import envvars
from spconnect.workspace import Workspace

# The capture flags login and reauth share (design, "Command contract").
NoBrowserOpt = Annotated[
    bool, typer.Option("--no-browser", help="Print the consent address; do not open a browser.")
]
PasteOpt = Annotated[
    bool, typer.Option("--paste", help="Only paste the address you land on; no listener.")
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        help="Loopback port to listen on (default: the app's callback port).",
        min=0,
        max=65535,
        metavar="PORT",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option(help="Seconds to wait for the answer.", min=1, metavar="SECONDS")
]
CertOpt = Annotated[
    Path | None,
    typer.Option(help="PEM certificate for local https mode.", dir_okay=False, metavar="FILE"),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(help="PEM private key for local https mode.", dir_okay=False, metavar="FILE"),
]
ExpectSellerOpt = Annotated[
    str | None,
    typer.Option(
        "--expect-seller",
        metavar="ID",
        help="Accept only this selling partner id: Amazon's answer for any other account "
        "ends the login with exit 8 before its code is exchanged; nothing is stored.",
    ),
]

FromUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--from-url",
        metavar="URL",
        help="Continue a flow Amazon started (Appstore 'Authorize now', Seller Central "
        "'Re-Authorize'): URL is the Login-URI address the browser landed on, as the relay "
        "page shows it.",
    ),
]


def _expected_seller(value: str | None) -> str | None:
    if value is None:
        return None
    from spconnect.amazon.ids import check_selling_partner_id

    return check_selling_partner_id(value)


def _graphical_browser_available() -> bool:
    # Without a display Python's webbrowser falls back to console browsers (lynx, w3m),
    # which would take over this terminal; over SSH the browser would open remotely.
    if sys.platform in ("darwin", "win32"):
        return not os.environ.get("SSH_CONNECTION")
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_browser(url: str) -> bool:
    if not _graphical_browser_available():
        return False
    import webbrowser

    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


DEFAULT_APP_NAME = "myapp"


def _ask(question: object) -> object:
    """questionary's answer, or an interrupt when the person pressed Ctrl-C."""
    answer = question.ask()  # type: ignore[attr-defined]
    if answer is None:
        raise KeyboardInterrupt
    return answer


def _first_run_wizard(ws: Workspace, vendor: bool) -> str:
    """Ask once for the app's fields (like `app add`) when no app is configured."""
    if not stdin_is_terminal():
        raise UsageError(
            "no app is configured, and there is no terminal to ask for one",
            "add it first: `spconnect app add NAME --client-id ID --app-id APP_ID "
            "--redirect-uri URL --client-secret-stdin`",
        )
    import questionary

    from spconnect.amazon import ids
    from spconnect.cli.app_cmd import build_app_config

    def valid(check: object) -> object:
        def run(value: str) -> bool | str:
            try:
                check(value)  # type: ignore[operator]
            except (UsageError, ValueError) as exc:
                return str(exc).splitlines()[0]
            return True

        return run

    say(
        "No SP-API app is configured yet. Its values are in Developer Central "
        "(Apps and Services > Develop Apps)."
    )

    # The default is a placeholder, not pre-filled text: text typed at a pre-filled
    # prompt is appended to it (`shop1` became `myappshop1`, issue 9, item 7). Enter on
    # the empty line takes the default.
    def check_name(value: str) -> None:
        if value.strip():
            ids.check_profile_name(value.strip())

    name = (
        str(
            _ask(
                questionary.text(
                    "A short name for the app:",
                    placeholder=f"{DEFAULT_APP_NAME} (Enter keeps it)",
                    validate=valid(check_name),
                )
            )
        ).strip()
        or DEFAULT_APP_NAME
    )
    client_id = str(
        _ask(
            questionary.text(
                "LWA client id (amzn1.application-oa2-client.…):",
                validate=valid(ids.check_client_id),
            )
        )
    )
    app_id = str(
        _ask(
            questionary.text(
                "Application id (amzn1.sp.solution.…):", validate=valid(ids.check_app_id)
            )
        )
    )
    redirect = str(_ask(questionary.text("Redirect URI (https):")))
    login_uri = str(_ask(questionary.text("Login URI (https, empty if none):")))
    draft = bool(_ask(questionary.confirm("Is the app in Draft status?", default=True)))
    secret = str(
        _ask(questionary.password("LWA client secret:", validate=valid(ids.check_client_secret)))
    )
    app = build_app_config(
        client_id=client_id,
        app_id=app_id,
        redirect_uri=redirect,
        login_uri=login_uri or None,
        draft=draft,
        kind="vendor" if vendor else "seller",
    )
    accounts.add_app(ws, name, app, secret)
    say(f"Saved app {name!r}; its client secret is in {ws.secrets.description}.")
    return name


def _ask_marketplace() -> Marketplace | None:
    if not stdin_is_terminal():
        return None
    import questionary

    from spconnect.amazon.marketplaces import MARKETPLACES

    choices = [
        questionary.Choice(f"{m.country} ({m.code}, region {m.region})", m.code)
        for m in MARKETPLACES
    ]
    code = _ask(
        questionary.select(
            "Marketplace to authorize through (the whole region is authorized):",
            choices=choices,
            default=choices[1],
        )
    )
    return resolve_marketplace(str(code))


def _show_address(url: str) -> None:
    """An address on a line of its own, nothing else on it (design, "Command contract"):
    easy to copy, easy for scripts to find."""
    sys.stderr.write(url + "\n")
    sys.stderr.flush()


def _spinner_text(remaining: float) -> str:
    minutes, seconds = divmod(int(remaining), 60)
    return f"Waiting for Amazon's answer… {minutes}:{seconds:02d} left (Ctrl-C to cancel)"


def _check_local_https_port(ws: Workspace, request: flow.LoginRequest) -> None:
    """In local https mode the listener must use the redirect URI's own port (issue 9,
    item 6): refuse another --port, and explain a busy port without suggesting --port."""
    if request.paste_only or (request.reauth and request.profile not in ws.config.profiles):
        return  # no listener; or nothing to renew, which start_consent explains
    from spconnect.consent.listener import port_is_free
    from spconnect.consent.tls import local_https

    # The app start_consent will use (with --from-url, the one the address names).
    app_name = flow.login_app_name(ws, request)
    target = local_https(ws.config.app(app_name).redirect_uri)
    if target is None:
        return  # relay mode: any port works, the port travels in state
    target.check_port(request.port, app_name)
    if not port_is_free(target.port, target.bind_address):
        raise LoginIncomplete(
            f"port {target.port} on {target.bind_address} is already in use, and app "
            f"{app_name!r} must listen there: its redirect URI {target.redirect_uri} is "
            "registered at Amazon",
            f"stop the program that uses port {target.port} (`ss -ltnp 'sport = "
            f":{target.port}'` names it), or use --paste; --port cannot help here",
        )


class _SharedStdin:
    """stdin for the paste prompt, which a question after Amazon's answer can take over.

    The paste prompt reads lines on a daemon thread that stays blocked in readline() when
    the listener wins (consent/paste.py); a second reader would race it for the person's
    keys, and questionary's raw mode would lose them to it. So the paste thread reads
    through here, and once a question takes over, the lines it reads go to the question
    instead of being read as pastes.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._taken: queue.Queue[str] | None = None
        self._reader: threading.Thread | None = None

    def reconfigure(self, **options: Any) -> None:
        reconfigure = getattr(self._stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(**options)

    def readline(self) -> str:
        self._reader = threading.current_thread()
        while True:
            line = self._stream.readline()
            with self._lock:
                taken = self._taken
            if taken is None:
                return line
            taken.put(line)
            if not line:
                return line

    def take_over(self) -> None:
        """From now on, lines go to take_line(); call it before asking, so that an answer
        typed at once cannot reach the paste prompt."""
        with self._lock:
            if self._taken is None:
                self._taken = queue.Queue()

    def take_line(self) -> str:
        """The person's next line (after take_over()), whoever is reading stdin."""
        self.take_over()
        taken = self._taken
        assert taken is not None
        while True:
            try:
                return taken.get(timeout=0.1)
            except queue.Empty:
                pass
            reader = self._reader
            if (reader is None or not reader.is_alive()) and taken.empty():
                return self._stream.readline()  # the paste thread is gone: read here


def _confirm_other_account(
    ws: Workspace, request: flow.LoginRequest, answer: Authorized, stdin: _SharedStdin
) -> flow.LoginRequest:
    """A login whose answer is for another account than the profile holds replaces it:
    asked on a terminal, refused without one unless --yes (issue 9, item 12). Asked
    before the code is exchanged, so a "no" leaves everything as it was."""
    existing = ws.config.profiles.get(request.profile)
    held = existing.selling_partner_id if existing is not None else None
    new = answer.selling_partner_id
    if request.reauth or request.force or not held or not new or held == new:
        return request  # reauth refuses another account itself (flow.finish_login)
    what = (
        f"profile {request.profile!r} holds selling partner {held}, and Amazon authorized "
        f"{new}; storing it replaces {held}"
    )
    command = f"spconnect login -p {request.profile} --yes"
    if not (stdin_is_terminal() and sys.stderr.isatty()):
        confirm_destructive(what, yes=False, command=command)  # refuses, as every question
    stdin.take_over()
    sys.stderr.write(for_display(f"{what}. Continue? [y/N] "))
    sys.stderr.flush()
    if stdin.take_line().strip().lower() not in ("y", "yes"):
        raise UsageError(
            f"nothing was changed: profile {request.profile!r} still holds {held}",
            f"to skip this question: {command}; for {new}, use another profile (-p NAME)",
        )
    return dataclasses.replace(request, force=True)


def browser_login(ws: Workspace, request: flow.LoginRequest, *, no_browser: bool) -> None:
    _check_local_https_port(ws, request)
    session = flow.start_consent(ws, request)
    try:
        if session.mode == "relay":
            say(
                f"Listening on {session.listening_on} for the relay page at "
                f"{session.app.redirect_uri} (see `spconnect relay-page`)."
            )
        elif session.mode == "https":
            say(f"Listening on {session.listening_on} (local https).")
            cert = session.certificate
            if cert is not None and cert.created and cert.self_signed:
                say(
                    f"Created a self-signed certificate for this address ({cert.cert_path}). "
                    "Your browser will warn once that it does not know it: spconnect made it "
                    "on this machine, for this address only. Accept it to continue, or pass "
                    "--cert/--key."
                )
        if session.amazon_started is not None:
            say(flow.amazon_started_note(session))
        start = session.start_address()
        if start is None:  # paste mode: the person types every answer back
            say("Open this address to authorize the app:")
            _show_address(session.consent_url)
        else:
            # A browser here goes through the start address, which lets it (and only it)
            # through the Login-URI hop (consent/binding.py). Another device cannot reach
            # this machine's listener: it opens Amazon's page and the answer is pasted.
            say("Open this address in a browser on this computer to authorize the app:")
            _show_address(start)
            say("On another device, open this one instead and paste the address you land on:")
            _show_address(session.consent_url)
        if not no_browser:
            # A start address of its own (single use), so that the printed one stays good
            # for another browser; in paste mode, the consent URL (harmless in the command
            # line: without a listener, only what the person pastes counts).
            if _open_browser(session.start_address() or session.consent_url):
                say("(opened in your browser)")
            else:
                say("(no browser could be opened here: open the address on any device)")
        say(PROMPT if session.mode != "paste" else PASTE_ONLY_PROMPT)

        interactive = sys.stderr.isatty() and session.mode != "paste"
        stdin = _SharedStdin(sys.stdin)
        paste_stream = cast(TextIO, stdin)  # readline() and reconfigure() are all it uses
        if interactive:
            from rich.console import Console

            console = Console(stderr=True)
            with console.status(_spinner_text(request.timeout)) as status:
                answer = flow.wait_for_answer(
                    session,
                    paste_stream=paste_stream,
                    on_note=say,
                    on_tick=lambda left: status.update(_spinner_text(left)),
                )
        else:
            answer = flow.wait_for_answer(session, paste_stream=paste_stream, on_note=say)
    finally:
        session.close()
    session.request = _confirm_other_account(ws, request, answer, stdin)
    started = time.monotonic()
    result = flow.finish_login(ws, session, answer)
    account = result.selling_partner_id or "unknown"
    say(
        f"Authorized: profile {result.profile!r}, selling partner {account}, region "
        f"{result.region} ({result.marketplace.country}), app {result.app!r}; tokens stored "
        f"in {ws.secrets.description} ({time.monotonic() - started:.1f} s after the answer)."
    )
    say(f"Next: spconnect token -p {result.profile}")


def _confirm_replacement(
    ws: Workspace,
    profile: str,
    marketplace: Marketplace | None,
    yes: bool,
    *,
    names_no_account: bool,
    flags: str = "",
) -> bool:
    """Ask before a login that would replace what the profile holds (issue 9, item 12);
    True when the replacement is agreed to (or nothing is at stake and ``yes`` stands)."""
    what = accounts.replaced_by_login(ws, profile, marketplace, names_no_account=names_no_account)
    if what is None:
        return yes
    where = f" --marketplace {marketplace.code}" if marketplace is not None else ""
    command = " ".join(f"spconnect login -p {profile}{where} {flags} --yes".split())
    confirm_destructive(what, yes=yes, command=command)
    return True


def _env_storage_refusal(profile: str, why: str) -> UsageError:
    return UsageError(
        f'storage = "env" is read-only: {why}',
        f"set {envvars.refresh_token_variable(profile)} (or {envvars.REFRESH_TOKEN} for "
        f"every profile) and run `spconnect login -p {profile} --marketplace CODE`",
    )


def login(
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="The app to authorize (see `app list`).", metavar="NAME"),
    ] = None,
    marketplace: Annotated[
        str | None,
        typer.Option(
            help="Country code (DE), marketplace id, or region (na, eu, fe).", metavar="CODE"
        ),
    ] = None,
    vendor: Annotated[bool, typer.Option("--vendor", help="Authorize in Vendor Central.")] = False,
    no_browser: NoBrowserOpt = False,
    paste: PasteOpt = False,
    port: PortOpt = None,
    timeout: TimeoutOpt = flow.DEFAULT_TIMEOUT,
    cert: CertOpt = None,
    key: KeyOpt = None,
    refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--refresh-token-stdin",
            help="Import a self-authorized refresh token (Seller Central > Develop Apps > "
            "Authorize app) from stdin.",
        ),
    ] = False,
    yes: YesOpt = False,
    force: ForceOpt = False,
    expect_seller: ExpectSellerOpt = None,
    from_url: FromUrlOpt = None,
    insecure_storage: InsecureStorageOpt = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Authorize an account through Amazon's consent page; store its tokens in the keyring.

    How the answer comes back (Amazon refuses http and localhost redirect URIs):

    \b
      relay: a public https redirect URI that hosts `spconnect relay-page`
      local https: a redirect URI whose host is this machine (TLS on its port)
      paste: the address the browser lands on, pasted (or only that: --paste)
      self-authorization: --refresh-token-stdin, a private app's own token

    Examples:

    \b
        spconnect login --marketplace US          # consent in the browser
        spconnect login -p eu-shop --app myapp --marketplace DE
        spconnect login --paste --marketplace UK  # over SSH: paste where you land
        spconnect login --refresh-token-stdin --marketplace US < token.txt
    """
    setup_verbose(verbose)
    from spconnect.amazon.ids import check_profile_name

    check_profile_name(profile)
    expected_seller = _expected_seller(expect_seller)
    resolved = resolve_marketplace(marketplace) if marketplace else None
    if refresh_token_stdin and expected_seller is not None:
        raise UsageError(
            "--expect-seller cannot be checked for a self-authorized refresh token: it "
            "carries no selling partner id",
            "drop --expect-seller, or authorize through the browser (`spconnect login`)",
        )
    if refresh_token_stdin and from_url is not None:
        raise UsageError(
            "--from-url continues a consent in the browser; --refresh-token-stdin imports a "
            "self-authorized token instead",
            "use one of the two",
        )
    ws = Workspace()
    force = force or yes
    if ws.config.storage == "env" and not insecure_storage:
        if refresh_token_stdin:
            raise _env_storage_refusal(
                profile, "refresh tokens come from the environment, not stdin"
            )
        if paste or port is not None or cert or key or expected_seller is not None:
            raise _env_storage_refusal(
                profile,
                "login takes the refresh token from the environment and opens no consent "
                "page, so --paste, --port, --cert, --key and --expect-seller do not apply",
            )
        force = _confirm_replacement(ws, profile, resolved, force, names_no_account=True)
        done = accounts.login_from_environment(
            ws, profile=profile, app_name=app_name, marketplace=resolved, force=force
        )
        result = done.result
        which = (
            done.variable
            if done.variable != envvars.REFRESH_TOKEN
            else f"{done.variable} (no {envvars.refresh_token_variable(profile)} is set)"
        )
        say(
            f"Profile {result.profile!r} uses {which}: Amazon accepted the token for app "
            f"{result.app!r} in region {result.region} ({result.marketplace.country})."
        )
        say(
            'storage = "env": only the profile was written to config.toml; set the variable '
            "wherever spconnect runs."
        )
        say(f"Next: spconnect token -p {result.profile}")
        return
    if refresh_token_stdin:
        force = _confirm_replacement(
            ws, profile, resolved, force, names_no_account=True, flags="--refresh-token-stdin"
        )
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
                "Selling partner id: unknown (self-authorized tokens do not carry it; a "
                "browser login or reauth supplies it)."
            )
        say(f"Next: spconnect token -p {result.profile}")
        return
    if insecure_storage and ws.config.storage != "file":
        accounts.use_insecure_storage(ws)
    if not ws.config.apps and app_name is None:
        app_name = _first_run_wizard(ws, vendor)
    if resolved is None and profile not in ws.config.profiles:
        resolved = _ask_marketplace()
    force = _confirm_replacement(ws, profile, resolved, force, names_no_account=False)
    request = flow.LoginRequest(
        profile=profile,
        app_name=app_name,
        marketplace=resolved,
        vendor=vendor,
        paste_only=paste,
        port=port,
        timeout=timeout,
        cert=str(cert) if cert else None,
        key=str(key) if key else None,
        force=force,
        expect_seller=expected_seller,
        from_url=from_url,
    )
    browser_login(ws, request, no_browser=no_browser)


def reauth(
    no_browser: NoBrowserOpt = False,
    paste: PasteOpt = False,
    port: PortOpt = None,
    timeout: TimeoutOpt = flow.DEFAULT_TIMEOUT,
    cert: CertOpt = None,
    key: KeyOpt = None,
    expect_seller: ExpectSellerOpt = None,
    from_url: FromUrlOpt = None,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Renew a profile's authorization (revoked, or its yearly renewal); the old refresh
    token stays until the new one is stored.

    Same capture modes as `spconnect login`; Amazon must answer for the same account.

    Examples:

    \b
        spconnect reauth                 # the default profile
        spconnect reauth -p eu-shop --paste
    """
    setup_verbose(verbose)
    ws = Workspace()
    if ws.config.storage == "env":  # before Amazon: a renewed token could not be kept
        raise _env_storage_refusal(
            profile, "it cannot keep a renewed refresh token; generate a new one in Seller Central"
        )
    request = flow.LoginRequest(
        profile=profile,
        paste_only=paste,
        port=port,
        timeout=timeout,
        cert=str(cert) if cert else None,
        key=str(key) if key else None,
        reauth=True,
        expect_seller=_expected_seller(expect_seller),
        from_url=from_url,
    )
    browser_login(ws, request, no_browser=no_browser)


def logout(
    all_profiles: Annotated[bool, typer.Option("--all", help="Log out every profile.")] = False,
    yes: YesOpt = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Remove a profile's refresh token, cached token and settings from this machine.

    The authorization stays with Amazon until the seller removes the app in Seller
    Central (Manage Your Apps).

    Examples:

    \b
        spconnect logout -p eu-shop
        spconnect logout --all --yes    # every profile, without asking
    """
    setup_verbose(verbose)
    ws = Workspace()
    names = sorted(ws.config.profiles) if all_profiles else [profile]
    if all_profiles and not names:
        say("No profiles to log out.")
        return
    if all_profiles:
        confirm_destructive(
            f"this logs out every profile ({', '.join(names)}) and deletes their refresh "
            "tokens from this machine",
            yes=yes,
            command="spconnect logout --all --yes",
        )
    removed = accounts.logout(ws, names)
    for name in removed:
        say(f"Logged out profile {name!r}: refresh token, cached token and settings removed.")
    say(
        "The authorization itself stays with Amazon until the seller removes the app in "
        "Seller Central (Apps and Services > Manage Your Apps)."
    )


def relay_page(
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="The app (needed when several are configured).", metavar="NAME"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE instead of stdout.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write the relay page to host at the app's Redirect URI (and Login URI), and print
    the steps to host and register it.

    Examples:

    \b
        spconnect relay-page -o index.html
        spconnect relay-page --app myapp > relay.html
    """
    setup_verbose(verbose)
    from spconnect.consent.relay import relay_page_for

    ws = Workspace()
    # No profile here: an app is chosen by name, or because it is the only one.
    name = accounts.resolve_app_name(ws, app_name, None)
    relay = relay_page_for(name, ws.config.app(name))
    if output is None:
        sys.stdout.write(relay.html)
    else:
        output.write_text(relay.html, encoding="utf-8")
        say(f"Wrote {output} ({len(relay.html)} bytes).")
    say(relay.steps)


class _LoginCommand(PlainHelpCommand):
    """`login --help` also says which capture mode the configured apps get."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.epilog = _capture_modes_here()
        super().format_help(ctx, formatter)


def _capture_modes_here() -> str | None:
    """Which way the answer comes back for each configured app, from the config as it is
    now; None when the config cannot be read (help must not fail)."""
    from rich.markup import escape

    from spconnect.consent.tls import local_https
    from spconnect.errors import SpconnectError
    from spconnect.store.config import load_config

    try:
        config = load_config()
    except SpconnectError:
        return None
    if config.storage == "env":
        return (
            'Here: storage = "env", so login takes the profile\'s refresh token from the '
            "environment and opens no consent page."
        )
    if not config.apps:
        return "Here: no app is configured yet; login first asks for one (on a terminal)."
    lines = []
    for name, app in sorted(config.apps.items()):
        https = local_https(app.redirect_uri)
        if https is not None:
            mode = f"local https on {https.host}:{https.port} (its redirect URI)"
        else:
            mode = (
                f"relay through {app.redirect_uri} to 127.0.0.1:{app.callback_port}, "
                "with paste beside it"
            )
        lines.append(f"app {name!r}: {mode}")
    heading = "Here, without --paste or --refresh-token-stdin:"
    return escape("\n".join([heading, *lines]))


def register(app: typer.Typer) -> None:
    app.command("login", cls=_LoginCommand)(login)
    app.command("reauth", cls=PlainHelpCommand)(reauth)
    app.command("logout", cls=PlainHelpCommand)(logout)
    app.command("relay-page", cls=PlainHelpCommand)(relay_page)
