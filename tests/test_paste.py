"""Paste mode: whatever people paste is read, or explained; never a traceback."""

from __future__ import annotations

import io
import queue
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spconnect.consent.answers import Authorized, ExpectedAnswer, Refused
from spconnect.consent.listener import ListenerEvent
from spconnect.consent.paste import parse_pasted, read_paste, start_paste_reader

STATE = "53682.AbCdEfGhIjKlMnOpQrStUvWxYz012345"
EXPECTED = ExpectedAnswer(
    STATE, "https://you.example.com/cb", False, "https://sellercentral.amazon.com"
)
LANDED = f"https://you.example.com/cb?state={STATE}&selling_partner_id=A1B2C3D4E5&spapi_oauth_code=ANcode"


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)


@pytest.mark.parametrize(
    "pasted",
    [
        LANDED,
        f"  '{LANDED}'\n",
        LANDED.split("?", 1)[1],
        "?" + LANDED.split("?", 1)[1],
        f"http://127.0.0.1:53682/callback?{LANDED.split('?', 1)[1]}",  # from a browser error page
    ],
)
def test_full_url_or_query_is_accepted(pasted: str) -> None:
    assert read_paste(pasted, EXPECTED).verdict == Authorized("ANcode", "A1B2C3D4E5")


def test_foreign_state_is_explained_and_not_accepted() -> None:
    reply = read_paste(LANDED.replace(STATE, "53682.someoneelsesstatexxxxxxxxx"), EXPECTED)
    assert reply.verdict is None and "not this login's" in str(reply.message)


def test_hop_address_says_what_to_open_next() -> None:
    reply = read_paste(
        "https://you.example.com/cb?amazon_callback_uri=%2Fapps%2Fauthorize%2F"
        "confirm%2Fx&amazon_state=AMZ",
        EXPECTED,
    )
    assert reply.verdict is None
    assert "https://sellercentral.amazon.com/apps/authorize/confirm/x?amazon_state=AMZ" in str(
        reply.message
    )


def test_pasted_consent_error_is_diagnosed_with_its_fix() -> None:
    """The text of Amazon's error page names the code: the cause and the fix of amazon.md
    section 10, as the browser's failure page gives them; not an address, so the prompt
    asks again (design, "Command contract")."""
    reply = read_paste(
        "We're sorry. An error occurred when we tried to process your request. Error code: MD1000",
        EXPECTED,
    )
    assert reply.verdict is None
    message = str(reply.message)
    assert "Amazon's MD1000" in message and "version=beta" in message
    assert "Fix: mark the app as draft (`app add --draft`)" in message


def test_md9010_is_diagnosed() -> None:
    message = str(read_paste("Error code: MD9010", EXPECTED).message)
    assert "MD9010" in message and "developer id" in message
    assert "register as a developer in that region" in message


# Amazon shows its consent errors (MD1000 and friends) on the consent or confirm page
# itself: the address bar keeps the address spconnect built, state included, and the code
# is only on the page (selling-partner-api-docs #191, #262, #1489).
ERROR_PAGE_ADDRESSES = [
    "https://sellercentral.amazon.com/apps/authorize/consent?application_id="
    f"amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab&state={STATE}&version=beta"
    "&redirect_uri=https%3A%2F%2Fyou.example.com%2Fcb",
    "https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.x?"
    f"amazon_state=AMZ&state={STATE}&redirect_uri=https%3A%2F%2Fyou.example.com%2Fcb",
]


@pytest.mark.parametrize("pasted", ERROR_PAGE_ADDRESSES)
def test_pasted_address_of_amazons_own_page_asks_for_the_code_it_shows(pasted: str) -> None:
    reply = read_paste(pasted, EXPECTED)
    assert reply.verdict is None  # not an answer: the login keeps waiting
    message = str(reply.message)
    assert "no authorization code" not in message
    assert "Amazon's own page" in message and "error code" in message


def test_an_error_code_in_the_answers_parameters_is_diagnosed() -> None:
    reply = read_paste(
        f"https://you.example.com/cb?state={STATE}&error=server_error&errorCode=MD5101", EXPECTED
    )
    assert isinstance(reply.verdict, Refused)
    assert "MD5101" in reply.verdict.reason and "redirect URI" in reply.verdict.advice


def test_an_error_code_in_a_foreign_answer_is_explained_without_ending_the_login() -> None:
    reply = read_paste("https://you.example.com/cb?error=MD9010", EXPECTED)
    assert reply.verdict is None
    assert "MD9010" in str(reply.message) and "not this login's" in str(reply.message)


def test_denied_answer_is_a_refusal() -> None:
    reply = read_paste(f"https://you.example.com/cb?state={STATE}&error=access_denied", EXPECTED)
    assert isinstance(reply.verdict, Refused)


# What made urllib raise in fuzzing (issue 8), in the host of a pasted address and in the
# Login-URI hop's amazon_callback_uri: bad IPv6 brackets, characters that change under
# NFKC (fullwidth solidus, at sign, question mark, number sign; U+2100), ports out of range
# or not numbers, and lone surrogates (what surrogateescape makes of undecodable bytes).
ODD = [
    "[",
    "]",
    "[x",
    "[::1",
    "::1]",
    "\uff0f",
    "\uff20",
    "\uff1f",
    "\uff03",
    "\u2100",
    "\uff45",
    "\udcff",
    "%",
    "%zz",
]
HOSTS = st.sampled_from(["you.example.com", "sellercentral.amazon.com", "127.0.0.1", *ODD])
PORTS = st.sampled_from(["", ":443", ":99999", ":-1", ":port", ":"])
VALUES = st.sampled_from([STATE, "c", "", "%ED%A0%80", *ODD]) | st.text(max_size=4)
CALLBACKS = st.builds(
    lambda scheme, host, port, path: quote(
        scheme + host + port + path, safe="", errors="surrogatepass"
    ),
    st.sampled_from(["https://", "http://", "", "//"]),
    HOSTS,
    PORTS,
    st.sampled_from(["/x", "", "/apps/authorize/confirm/x"]),
)
QUERIES = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("state", "spapi_oauth_code", "selling_partner_id", "amazon_callback_uri"),
                *("amazon_state", "error", "x"),
            ]
        ),
        CALLBACKS | VALUES,
    ),
    max_size=5,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
URLISH = st.builds(
    lambda scheme, host, port, path, query, tail: f"{scheme}{host}{port}{path}?{query}{tail}",
    st.sampled_from(["https://", "http://", ""]),
    HOSTS,
    PORTS,
    st.sampled_from(["/cb", "", "/"]),
    QUERIES,
    st.sampled_from(["", "#", "#frag", *ODD]),
)
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()))  # surrogates included


@pytest.mark.parametrize(
    "pasted",
    [
        "https://[x?a=b",
        "https://[::1?state=x&spapi_oauth_code=c",
        "https://you.example.com:99999/cb?state=x&spapi_oauth_code=c",
        "https://you.example.com:port/cb?state=x&spapi_oauth_code=c",
        "https://you.example.com\uff0fcb?state=x&spapi_oauth_code=c",
        "https://you\uff20example.com/?state=x&spapi_oauth_code=c",
        "https://you.example.com/cb?amazon_callback_uri=https%3A%2F%2F%5B%3A%3A1%2Fx&amazon_state=A",
        "https://you.example.com/cb?amazon_callback_uri=%2Fx&amazon_state=%ED%A0%80\udcff",
        "https://you.example.com/cb?amazon_callback_uri=https%3A%2F%2Fsellercentral.amazon.com"
        "%3A99999%2Fx&amazon_state=A",
        f"https://you.example.com/cb?state={STATE}\udcff&spapi_oauth_code=c",
    ],
)
def test_malformed_addresses_are_explained_not_raised(pasted: str) -> None:
    reply = read_paste(pasted, EXPECTED)
    assert reply.verdict is None and reply.message


def test_a_broken_host_does_not_hide_a_good_answer() -> None:
    """Only the query matters: an address whose host urllib refuses still carries it."""
    assert parse_pasted("https://[x?a=b") == {"a": "b"}
    pasted = LANDED.replace("https://you.example.com", "https://[you.example.com")
    assert read_paste(pasted, EXPECTED).verdict == Authorized("ANcode", "A1B2C3D4E5")


@given(URLISH)
def test_any_address_like_paste_is_read_or_explained(text: str) -> None:
    parse_pasted(text)
    reply = read_paste(text, EXPECTED)
    assert reply.verdict is not None or reply.message


@given(ANY_TEXT)
def test_any_paste_is_read_or_explained(text: str) -> None:
    parse_pasted(text)
    reply = read_paste(text, EXPECTED)
    assert reply.verdict is not None or reply.message


def test_reader_outlives_malformed_and_undecodable_lines() -> None:
    """The reader thread must never die: a later good paste still wins (issue 8)."""
    events: queue.Queue[ListenerEvent] = queue.Queue()
    ended: list[bool] = []
    raw = b"https://[x?a=b\n\xff\xfe garbage \xc3\n" + "https://\uff45\uff0f[::1\n".encode()
    stream = io.TextIOWrapper(io.BytesIO(raw + LANDED.encode() + b"\n"), encoding="utf-8")
    thread = start_paste_reader(stream, EXPECTED, events, on_input_end=lambda: ended.append(True))
    thread.join(5)
    assert not thread.is_alive()
    seen = [events.get_nowait() for _ in range(events.qsize())]
    assert [e.verdict for e in seen if e.verdict is not None] == [
        Authorized("ANcode", "A1B2C3D4E5")
    ]
    assert len([e for e in seen if e.verdict is None and e.note]) == 3
    assert not ended


def test_parse_rejects_text_without_parameters() -> None:
    assert parse_pasted("hello") is None
    assert parse_pasted("https://example.com/") is None


def test_reader_feeds_events_and_reports_end_of_input() -> None:
    events: queue.Queue[ListenerEvent] = queue.Queue()
    ended: list[bool] = []
    stream = io.StringIO(f"garbage\n\n{LANDED}\nignored after the answer\n")
    thread = start_paste_reader(stream, EXPECTED, events, on_input_end=lambda: ended.append(True))
    thread.join(5)
    first, second = events.get_nowait(), events.get_nowait()
    assert first.verdict is None and first.note
    assert second.verdict == Authorized("ANcode", "A1B2C3D4E5")
    assert events.empty() and not ended
    thread = start_paste_reader(
        io.StringIO(""), EXPECTED, events, on_input_end=lambda: ended.append(True)
    )
    thread.join(5)
    assert ended == [True]
