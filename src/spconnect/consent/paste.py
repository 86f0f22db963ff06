"""Paste mode: the person finishes consent in any browser, on any machine, and pastes the
address they landed on (or just its query). Works over SSH, in containers, with any
redirect URI. The paste goes through the same interpretation as the listener."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import parse_qsl, urlsplit

from spconnect.amazon.consent import consent_error_in, explain_consent_error
from spconnect.consent.answers import (
    Authorized,
    Empty,
    ExpectedAnswer,
    Foreign,
    Hop,
    Refused,
    interpret,
)
from spconnect.consent.listener import ListenerEvent
from spconnect.names import clean_pasted

log = logging.getLogger("spconnect.paste")

PROMPT = (
    "If the browser is on another machine, paste the address it landed on (an error page's "
    "address works too); otherwise just wait: "
)
PASTE_ONLY_PROMPT = (
    "After approving, paste the address your browser landed on (an error page's address "
    "works too): "
)


# Amazon shows a consent error (MD1000 and friends) in place of the consent page, at the
# address spconnect built: the address carries no answer and no code, only the page does
# (amazon.md section 10; selling-partner-api-docs #191, #262, #1489).
AMAZON_PAGE = (
    "That is the address of Amazon's own page (its consent page, or an error shown in its "
    "place), not the answer Amazon sends back. If the page shows an error code such as "
    "MD1000, paste the code or the page's text here and spconnect will say what it means "
    "and how to fix it; otherwise approve on that page, then paste the address you land on."
)
# Names only, never "name=…": the display filter masks whatever follows
# "spapi_oauth_code=", and it used to eat the end of this sentence (issue 9, item 9).
UNREADABLE = (
    "That is not an address spconnect can read. Paste the whole address from the "
    "browser's address bar (its query has state and spapi_oauth_code in it)."
)


@dataclass(frozen=True)
class PasteReply:
    """What to tell the person about one pasted line, and whether the login is decided."""

    verdict: Authorized | Refused | None
    message: str | None = None


def parse_pasted(text: str) -> dict[str, str] | None:
    """The query parameters of a pasted URL or query string; None when it is neither."""
    text = clean_pasted(text)
    if not text:
        return None
    if "://" in text:
        try:
            parts = urlsplit(text)
            query = parts.query or parts.fragment
        except ValueError:
            # urlsplit refuses some hosts (a bad IPv6 literal, characters that change
            # under NFKC); only the query matters here, so read it without the host.
            before_fragment, _, fragment = text.partition("#")
            query = before_fragment.partition("?")[2] or fragment
    else:
        query = text.split("?", 1)[1] if "?" in text else text
    if "=" not in query:
        return None
    params = dict(parse_qsl(query, keep_blank_values=False))
    return params or None


def is_amazons_own_page(params: dict[str, str]) -> bool:
    """Whether a pasted address is one of Amazon's pages on the way (the consent URL, or
    the Login-URI hop's continuation) rather than an answer (amazon.md sections 2, 3)."""
    if "spapi_oauth_code" in params or "error" in params or "amazon_callback_uri" in params:
        return False
    return "application_id" in params or "amazon_state" in params


def read_paste(text: str, expected: ExpectedAnswer) -> PasteReply:
    params = parse_pasted(text)
    if params is None:
        known = explain_consent_error(text)
        if known:
            # The code (or text) of Amazon's error page: its cause and fix (amazon.md
            # section 10); not an address, so the prompt asks again (design, "Command
            # contract").
            return PasteReply(
                None,
                f"Amazon's {known.code}: {known.cause}. Fix: {known.advice}; then run the "
                "login again.",
            )
        return PasteReply(None, UNREADABLE)
    if consent_error_in(params) is None and is_amazons_own_page(params):
        return PasteReply(None, AMAZON_PAGE)
    verdict = interpret(params, expected)
    if isinstance(verdict, Authorized | Refused):
        return PasteReply(verdict)
    if isinstance(verdict, Hop):
        return PasteReply(
            None,
            "That was the Login URI step. Open this address next to reach Amazon's consent "
            f"page, then paste the address you land on after it:\n{verdict.target}",
        )
    if isinstance(verdict, Foreign):
        known = consent_error_in(params)
        amazon_said = f" Amazon answered it with {known.code}: {known.cause}." if known else ""
        return PasteReply(
            None,
            f"That address is not this login's ({verdict.reason}).{amazon_said} "
            "Paste the address from this login's browser window.",
        )
    assert isinstance(verdict, Empty)
    return PasteReply(None, "That address carries no answer from Amazon.")


def start_paste_reader(
    stream: TextIO,
    expected: ExpectedAnswer,
    events: queue.Queue[ListenerEvent],
    *,
    on_input_end: Callable[[], None],
) -> threading.Thread:
    """Read pasted lines on a daemon thread and put what they mean on ``events``.

    A daemon thread because a blocked read cannot be interrupted portably; when the
    listener wins the race, the login simply stops listening to this thread.
    """

    # A paste that is not valid UTF-8 (a terminal in another encoding, binary garbage)
    # must be explained like any other bad paste; with errors="strict" the decoder would
    # raise and drop the rest of its buffer, later lines included.
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")

    def run() -> None:
        while True:
            try:
                line = stream.readline()
            except UnicodeDecodeError:  # a stream that could not be reconfigured
                events.put(ListenerEvent(verdict=None, note=UNREADABLE))
                continue
            if not line:
                break
            if not line.strip():
                continue
            try:
                reply = read_paste(line, expected)
            except Exception:
                # The prompt must outlive any input: a dead reader thread would ignore
                # every later paste and leave the login waiting until --timeout.
                log.debug("paste: could not read a pasted line", exc_info=False)
                reply = PasteReply(None, UNREADABLE)
            events.put(ListenerEvent(verdict=reply.verdict, note=reply.message))
            if reply.verdict is not None:
                return
        on_input_end()

    thread = threading.Thread(target=run, name="spconnect-paste", daemon=True)
    thread.start()
    return thread
