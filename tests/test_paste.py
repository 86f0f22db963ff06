"""Paste mode: whatever people paste is read, or explained; never a traceback."""

from __future__ import annotations

import io
import queue

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


def test_pasted_consent_error_is_explained() -> None:
    reply = read_paste(
        "We're sorry. An error occurred when we tried to process your request. Error code: MD1000",
        EXPECTED,
    )
    assert reply.verdict is None and "MD1000" in str(reply.message)
    assert "version=beta" in str(reply.message)


def test_denied_answer_is_a_refusal() -> None:
    reply = read_paste(f"https://you.example.com/cb?state={STATE}&error=access_denied", EXPECTED)
    assert isinstance(reply.verdict, Refused)


@given(st.text())
def test_any_paste_is_read_or_explained(text: str) -> None:
    reply = read_paste(text, EXPECTED)
    assert reply.verdict is not None or reply.message


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
