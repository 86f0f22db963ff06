"""What one ``spconnect serve`` answers for: the app, the origin sellers see, the paths.

The server answers on the paths of the app's registered Redirect URI and Login URI
(amazon.md section 3), so both must be on the public origin (``--public-url``): the
https origin sellers see, in front of which a TLS terminator forwards plain http on
loopback. ``--public-url`` itself may be plain http on a loopback host (a code must never
cross a network in clear text), but since Amazon accepts only https URIs (amazon.md
section 3) and config.toml holds only those, an app's URIs are on an https origin.
Standard library only: the CLI checks these before it imports the ASGI stack.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from spconnect.errors import UsageError
from spconnect.names import clean_pasted

# Paths the server keeps for itself; an app URI on one of them would be shadowed.
INVITE_PREFIX = "/i/"
ADMIN_PREFIX = "/admin/"
HEALTH_PATH = "/healthz"
RESERVED_PREFIXES = (INVITE_PREFIX, ADMIN_PREFIX)

DEFAULT_RATE_LIMIT = 60  # requests per minute per client address on public paths
# How long a consent started from an invite may take: signing in to Seller Central
# (with two-step verification) and reading the consent page. amazon.md section 2 asks
# only that state be short-lived.
STATE_LIFETIME_SECONDS = 20 * 60


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_public_url(value: str) -> str:
    """The origin ``scheme://host[:port]`` of ``--public-url``; UsageError (exit 2) when
    it is not an https origin (or http on a loopback host)."""
    text = clean_pasted(value)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UsageError(f"--public-url {text!r} is not a URL", _PUBLIC_URL_HINT) from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"--public-url {text!r} is not an https URL", _PUBLIC_URL_HINT)
    if parts.scheme == "http" and not is_loopback_host(host):
        raise UsageError(
            f"--public-url {text!r} is plain http on a host that is not loopback; sellers' "
            "browsers would carry Amazon's authorization code in clear text",
            _PUBLIC_URL_HINT,
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(f"--public-url {text!r} must be an origin only", _PUBLIC_URL_HINT)
    if parts.path not in ("", "/"):
        raise UsageError(
            f"--public-url {text!r} has a path; the server answers at the root of its origin",
            _PUBLIC_URL_HINT,
        )
    shown_host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown_host}{f':{port}' if port is not None else ''}"


_PUBLIC_URL_HINT = (
    "give the https origin sellers see, such as https://connect.example.com (the TLS "
    "terminator in front of spconnect serve answers there)"
)


MAX_DISPLAY_NAME_CHARS = 80


def check_display_name(value: str) -> str:
    """``--display-name``: one line of printable text, at most 80 characters (pages
    escape it; this keeps a mistyped value from turning them into something else)."""
    text = " ".join(value.split())
    if not text or len(text) > MAX_DISPLAY_NAME_CHARS or not text.isprintable():
        raise UsageError(
            f"--display-name must be 1 to {MAX_DISPLAY_NAME_CHARS} printable characters",
            "give the app's name as sellers know it, such as --display-name 'Acme Repricer'",
        )
    return text


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def check_on_origin(public_url: str, uri: str, what: str) -> str:
    """The path of ``uri`` (the app's Redirect or Login URI), which must be on
    ``public_url``'s origin; UsageError naming both otherwise."""
    if _origin(uri) != _origin(public_url):
        raise UsageError(
            f"the app's {what} {uri} is not on --public-url {public_url}",
            f"the server answers Amazon on the app's {what}: register a {what} on "
            f"{public_url} (`spconnect app add`), or give the origin of {uri} as --public-url",
        )
    path = urlsplit(uri).path or "/"
    if "{" in path or "}" in path:
        raise UsageError(
            f"the app's {what} {uri} has braces in its path, which spconnect serve cannot route",
            f"register a {what} with a plain path, such as {public_url}/spconnect/callback",
        )
    if path == HEALTH_PATH or path.startswith(RESERVED_PREFIXES) or path + "/" == ADMIN_PREFIX:
        raise UsageError(
            f"the app's {what} {uri} uses a path the server keeps for itself "
            f"({INVITE_PREFIX}…, {ADMIN_PREFIX}…, {HEALTH_PATH})",
            f"register a {what} on another path, such as {public_url}/spconnect/callback",
        )
    return path


@dataclass(frozen=True)
class ServeSettings:
    """The app the server authorizes for (from config.toml) and how it is reached."""

    app_name: str
    client_id: str
    app_id: str
    redirect_uri: str
    login_uri: str | None
    draft: bool
    kind: Literal["seller", "vendor"]
    public_url: str  # an origin, from check_public_url
    open_enrollment: bool = False
    rate_limit: int = DEFAULT_RATE_LIMIT  # per minute per client; 0: off
    state_lifetime: int = STATE_LIFETIME_SECONDS
    display_name: str = ""  # from check_display_name; "" shows app_name

    @property
    def shown_name(self) -> str:
        """The app's name on the pages sellers see."""
        return self.display_name or self.app_name

    def __post_init__(self) -> None:
        check_on_origin(self.public_url, self.redirect_uri, "Redirect URI")
        if self.login_uri:
            check_on_origin(self.public_url, self.login_uri, "Login URI")

    @property
    def redirect_path(self) -> str:
        return urlsplit(self.redirect_uri).path or "/"

    @property
    def login_path(self) -> str | None:
        return (urlsplit(self.login_uri).path or "/") if self.login_uri else None

    @property
    def secure(self) -> bool:
        """Whether sellers reach the server over https (cookies then carry Secure)."""
        return self.public_url.startswith("https://")

    def invite_url(self, invite_id: str) -> str:
        return f"{self.public_url}{INVITE_PREFIX}{invite_id}"
