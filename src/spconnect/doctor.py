"""``spconnect doctor``: why something cannot work on this machine, each with a fix.

Checks: the keyring backend and whether it is secure; a Secret Service on D-Bus that is
unlocked; SSH/WSL/container sessions (which need port forwarding or paste mode); the
config file; each app's URIs and draft flag; the callback ports; and clock skew against
the LWA server's Date header (the only check that uses the network).
"""

from __future__ import annotations

import email.utils
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from spconnect.errors import ExitCode, SpconnectError

if TYPE_CHECKING:
    from spconnect.consent.tls import LocalHttps
    from spconnect.store.config import AppConfig

SKEW_WARNING_SECONDS = 30

SECRET_SERVICE_RECIPE = (
    "on a desktop, log in graphically (the keyring unlocks with your session); on a "
    "server or in a container: apt-get install gnome-keyring dbus, then run spconnect "
    'inside `dbus-run-session -- sh -c \'printf %s "$KEYRING_PASSWORD" | '
    'gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$SHELL"\'`'
)


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # "ok", "warn", "fail", "skip"
    detail: str
    fix: str | None = None
    exit_code: int = ExitCode.OK  # for "fail"


def _keyring_checks(storage: str, timeout: float) -> list[Check]:
    from spconnect.store.secrets import WAYS_OUT, describe_backend, run_with_timeout

    try:
        import keyring

        backend = run_with_timeout(keyring.get_keyring, timeout, "opening the keyring")
        label, secure = describe_backend(backend)
    except SpconnectError as error:
        return [
            Check(
                "keyring", "fail", error.message, "spconnect doctor", ExitCode.STORAGE_UNAVAILABLE
            )
        ]
    checks = []
    if storage != "keyring":
        checks.append(
            Check(
                "keyring",
                "ok",
                f"backend {label}; config uses storage = {storage!r}, so the keyring is not needed",
            )
        )
    elif secure:
        checks.append(Check("keyring", "ok", f"backend {label} (secure)"))
    else:
        checks.append(
            Check(
                "keyring",
                "fail",
                f"no secure keyring: {label}",
                WAYS_OUT,
                ExitCode.STORAGE_UNAVAILABLE,
            )
        )
    if sys.platform.startswith("linux") and storage == "keyring":
        checks.append(_secret_service_check())
    return checks


def _secret_service_check() -> Check:
    from spconnect.store.secrets import secret_service_state

    state = secret_service_state()
    if state == "unlocked":
        return Check("secret service", "ok", "reachable on D-Bus and unlocked")
    if state == "locked":
        return Check(
            "secret service",
            "fail",
            "the default keyring is locked",
            "unlock it (log in graphically, or `gnome-keyring-daemon "
            "--unlock` reading the password from stdin)",
            ExitCode.STORAGE_UNAVAILABLE,
        )
    detail = {
        "no session": "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)",
        "absent": "no Secret Service answers on D-Bus",
    }.get(state, state.removeprefix("error: "))
    return Check(
        "secret service", "fail", detail, SECRET_SERVICE_RECIPE, ExitCode.STORAGE_UNAVAILABLE
    )


def _session_checks(ports: list[int]) -> list[Check]:
    checks = []
    forward = (
        " ".join(f"-L {p}:127.0.0.1:{p}" for p in sorted(set(ports))) or "-L 53682:127.0.0.1:53682"
    )
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_CLIENT"):
        checks.append(
            Check(
                "session",
                "warn",
                "this is an SSH session: a browser on your own "
                "computer cannot reach the listener here",
                f"forward the callback port: `ssh {forward} <this host>`, or use "
                "`spconnect login --paste`",
            )
        )
    try:
        with open("/proc/version", encoding="utf-8") as handle:
            wsl = "microsoft" in handle.read().lower()
    except OSError:
        wsl = False
    if wsl:
        checks.append(
            Check(
                "session",
                "warn",
                "this is WSL: the Windows browser reaches "
                "WSL's 127.0.0.1 only with localhost forwarding",
                "if the browser cannot reach spconnect, use `spconnect login --paste`",
            )
        )
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        checks.append(
            Check(
                "session",
                "warn",
                "this is a container: a browser outside it "
                "cannot reach the listener unless the port is published",
                "use `spconnect login --paste`, or publish the callback port",
            )
        )
    if not checks:
        checks.append(Check("session", "ok", "local session"))
    return checks


def _app_checks(config: object) -> list[Check]:
    from spconnect.consent.tls import local_https
    from spconnect.store.config import Config

    assert isinstance(config, Config)
    checks = []
    if not config.apps:
        checks.append(
            Check(
                "apps",
                "warn",
                "no app is configured",
                "spconnect app add NAME --client-id … --app-id … --redirect-uri …",
            )
        )
    for name, app in sorted(config.apps.items()):
        host = urlsplit(app.redirect_uri).hostname or ""
        https = local_https(app.redirect_uri)
        notes = []
        outcome = "ok"
        fix = None
        if host in ("localhost", "127.0.0.1", "::1"):
            outcome, fix = (
                "warn",
                (
                    "register a name mapped to 127.0.0.1 in /etc/hosts "
                    "instead, or host the relay page"
                ),
            )
            notes.append(f"redirect URI host {host!r}: Amazon refuses localhost at registration")
        elif https is not None:
            notes.append("redirect URI resolves to this machine: local https mode")
        else:
            notes.append("public redirect URI: relay mode (host `spconnect relay-page`)")
        if not app.draft and not app.login_uri:
            outcome = "warn"
            fix = fix or "register the relay page as Login URI too, then add --login-uri"
            notes.append("published app without a Login URI (Amazon requires both to save)")
        notes.append(
            "draft: consent adds version=beta" if app.draft else "published: no version=beta"
        )
        checks.append(Check(f"app {name}", outcome, "; ".join(notes), fix))
        checks.append(_port_check(name, app.callback_port, https))
    return checks


def _port_check(name: str, callback_port: int, https: LocalHttps | None) -> Check:
    """The port the app's capture mode listens on (issue 9, item 6): in local https mode
    the redirect URI's own, which no --port can replace; in relay mode the callback port."""
    from spconnect.consent.listener import port_is_free

    if https is None:
        if port_is_free(callback_port):
            return Check(f"app {name} port", "ok", f"callback port {callback_port} is free")
        return Check(
            f"app {name} port",
            "warn",
            f"callback port {callback_port} is in use",
            "stop the other program, or pass --port N to login",
        )
    where = f"port {https.port} of the redirect URI (local https)"
    if port_is_free(https.port, https.bind_address):
        return Check(f"app {name} port", "ok", f"{where} is free")
    return Check(
        f"app {name} port",
        "warn",
        f"{where} is in use on {https.bind_address}",
        "stop the program that uses it; login cannot listen elsewhere, because Amazon "
        "sends the answer to the registered redirect URI (or use `spconnect login --paste`)",
    )


def listening_port(app: AppConfig) -> int:
    """The port `login` listens on for an app, by its capture mode."""
    from spconnect.consent.tls import local_https

    https = local_https(app.redirect_uri)
    return https.port if https is not None else app.callback_port


CLOCK_CHECK_SECONDS = 10.0


def _clock_check() -> Check:
    import httpx

    from spconnect.amazon import bounded, client_tls
    from spconnect.amazon.endpoints import lwa_token_url

    url = lwa_token_url()
    try:
        started = time.time()
        # Bounded like every answer (amazon/bounded.py): a deadline, and no body kept.
        with httpx.Client(
            limits=bounded.NO_KEEPALIVE, verify=client_tls.context_for(url)
        ) as client:
            answer = bounded.fetch(
                client,
                "HEAD",
                url,
                deadline=time.monotonic() + CLOCK_CHECK_SECONDS,
                timeout=CLOCK_CHECK_SECONDS,
                limit=0,
            )
        local = (started + time.time()) / 2
    except (httpx.HTTPError, bounded.DeadlineExceeded) as error:
        return Check(
            "clock",
            "fail",
            f"Login with Amazon ({url}) is unreachable: {type(error).__name__}",
            "check the network, proxy and firewall",
            ExitCode.AMAZON_UNAVAILABLE,
        )
    date = answer.headers.get("date")
    try:
        server_time = email.utils.parsedate_to_datetime(date).timestamp() if date else None
    except (TypeError, ValueError, OverflowError):
        server_time = None
    if server_time is None:
        return Check("clock", "warn", f"{url} sent no usable Date header; skew unknown")
    skew = local - server_time
    if abs(skew) > SKEW_WARNING_SECONDS:
        ahead = "ahead of" if skew > 0 else "behind"
        return Check(
            "clock",
            "warn",
            f"this clock is {abs(skew):.0f} s {ahead} Amazon's; "
            "tokens may look valid when they are not",
            "synchronise the clock (e.g. `timedatectl set-ntp true`)",
        )
    return Check("clock", "ok", f"within {abs(skew):.1f} s of Amazon's clock")


def run_checks(*, offline: bool) -> list[Check]:
    from spconnect.store.config import Config, config_path, load_config

    checks: list[Check] = []
    zero = _zero_config_checks() if not os.path.exists(config_path()) else None
    if zero is not None:
        # No consent flow in this mode (no app id, no redirect URI): no app or port checks.
        zero_checks, storage, timeout = zero
        checks += zero_checks + _keyring_checks(storage, timeout)
        checks.append(Check("clock", "skip", "skipped (--offline)") if offline else _clock_check())
        return checks
    try:
        config = load_config()
        exists = os.path.exists(config_path())
        checks.append(
            Check(
                "config",
                "ok",
                f"{config_path()} is valid" if exists else f"no config yet ({config_path()})",
            )
        )
    except SpconnectError as error:
        checks.append(Check("config", "fail", error.message, error.hint, error.exit_code))
        config = Config()
    checks += _keyring_checks(config.storage, config.keyring_timeout)
    checks += _session_checks([listening_port(a) for a in config.apps.values()])
    checks += _app_checks(config)
    checks.append(Check("clock", "skip", "skipped (--offline)") if offline else _clock_check())
    return checks


def _zero_config_checks() -> tuple[list[Check], str, float] | None:
    """Zero-config mode (no config file, SPCONNECT_CLIENT_ID set): what `token`, `api` and
    `exec` will use; None when the environment does not describe an app."""
    from spconnect.store import envvars
    from spconnect.store.config import Config, zero_config

    try:
        config = zero_config()
    except SpconnectError as error:
        failed = Check("config", "fail", error.message, error.hint, error.exit_code)
        return [failed], "env", Config().keyring_timeout
    if config is None:
        return None
    profile = config.profiles["default"]
    missing = [
        name
        for name, value in (
            (envvars.CLIENT_SECRET, envvars.client_secret()),
            (envvars.REFRESH_TOKEN, envvars.refresh_token("default")),
        )
        if not value
    ]
    checks = [
        Check(
            "config",
            "ok",
            f"zero-config mode: no config file; the app of {envvars.CLIENT_ID} in region "
            f"{profile.region}, for `token`, `api` and `exec`",
        )
    ]
    if missing:
        checks.append(
            Check(
                "secrets",
                "fail",
                f"zero-config mode needs {' and '.join(missing)}",
                "set it in the environment (a CI secret), or describe the app in a config "
                "file with `spconnect app add`",
                ExitCode.NOT_SET_UP,
            )
        )
    return checks, config.storage, config.keyring_timeout


def worst(checks: list[Check]) -> int:
    return max((c.exit_code for c in checks if c.outcome == "fail"), default=ExitCode.OK)
