"""Which browser started this login: the single-use start address and its cookie.

Amazon's Login-URI call carries no ``state`` of ours (amazon.md section 3), so a hop
request cannot prove itself by state, and the hop's redirect hands the login's ``state``
to whoever asks: without more, any local process could request the hop, read ``state``
from the ``Location`` and deliver its own seller's code with it (issue 8, section 1).

So the browser is not sent to Amazon directly. It opens a start address on the
listener's own origin (``<listener>?spconnect_start=<token>``), which sets a per-login
cookie and redirects to Amazon's consent page; the listener continues a hop only for a
request that carries the cookie. The relay page and Amazon's own redirect reach the
listener by top-level navigation, on which browsers send ``SameSite=Lax`` cookies; a web
page's fetch() does not carry them. A hop pasted into the terminal needs no cookie: the
person typed it.

The start address travels in the browser's command line, which other local users can
read (``/proc/<pid>/cmdline``), so each token works once. A second use from a browser
without the cookie means someone else may hold the login's state: the login ends
instead of racing them.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import threading

START_PARAMETER = "spconnect_start"
COOKIE_LIFETIME = 24 * 3600  # longer than any login; the value is useless after it


class StartUse(enum.Enum):
    FIRST = "first"  # an unused token: set the cookie, go on to Amazon
    AGAIN = "again"  # a used token, from the browser that holds the cookie (a reload)
    REPLAYED = "replayed"  # a used token from another client: someone else has seen it
    UNKNOWN = "unknown"  # never issued by this login (an older login's address, a guess)


def _same(a: str, b: str) -> bool:
    # Constant-time: the cookie is as much a secret as state is.
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8"))


class BrowserBinding:
    """The start tokens this login issued, and the cookie that marks its browser."""

    def __init__(self, port: int, *, path: str, secure: bool) -> None:
        # The port in the name: cookies are per host, not per port, and two logins may
        # wait on 127.0.0.1 at once.
        self.cookie_name = f"spconnect_{port}"
        self._cookie = secrets.token_urlsafe(32)
        self._path = path
        self._secure = secure
        self._unused: set[str] = set()
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def new_start_token(self) -> str:
        """A fresh single-use token (at least 128 random bits, as state has)."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._unused.add(token)
        return token

    def use_start_token(self, token: str, cookie_header: str) -> StartUse:
        with self._lock:
            issued = next((t for t in self._unused | self._used if _same(token, t)), None)
            if issued is None:
                return StartUse.UNKNOWN
            if issued in self._unused:
                self._unused.discard(issued)
                self._used.add(issued)
                return StartUse.FIRST
        return StartUse.AGAIN if self.recognises(cookie_header) else StartUse.REPLAYED

    def recognises(self, cookie_header: str) -> bool:
        """Whether a request's Cookie header carries this login's cookie."""
        for pair in cookie_header.split(";"):
            name, _, value = pair.strip().partition("=")
            if name == self.cookie_name and _same(value.strip('"'), self._cookie):
                return True
        return False

    def set_cookie(self) -> str:
        """The Set-Cookie value: HttpOnly (no script needs it), SameSite=Lax (sent on the
        top-level navigations the hop arrives by, not on other sites' fetches), Secure
        when the listener serves https."""
        attributes = [
            f"{self.cookie_name}={self._cookie}",
            f"Path={self._path}",
            f"Max-Age={COOKIE_LIFETIME}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if self._secure:
            attributes.append("Secure")
        return "; ".join(attributes)
