"""The one redaction filter."""

from __future__ import annotations

import logging

import pytest

from spconnect.redaction import MASK, RedactingFilter, redact, register_secret


@pytest.mark.parametrize(
    "text",
    [
        "token Atzr|IwEBIabc-_/+=xyz here",
        "Atza|IwEBIabc",
        "secret amzn1.oa2-cs.v1.0123abcd",
        "https://x/cb?state=1.abc&spapi_oauth_code=ANcodecode&selling_partner_id=A1",
        "https://x/cb?code=ANsecret&state=s",
    ],
)
def test_secret_shapes_are_masked(text: str) -> None:
    out = redact(text)
    assert MASK in out
    for fragment in ("IwEBIabc", "0123abcd", "ANcodecode", "ANsecret"):
        assert fragment not in out


def test_registered_values_are_masked_wherever_they_appear() -> None:
    register_secret("opaque-secret-value-42")
    assert redact("a opaque-secret-value-42 b") == f"a {MASK} b"


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert redact("abc") == "abc"


def test_logging_filter_redacts_messages_args_and_tracebacks() -> None:
    record = logging.LogRecord(
        "spconnect", logging.INFO, __file__, 1, "got %s", ("Atzr|zzz",), None
    )
    try:
        raise ValueError("boom Atza|inner")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert "Atzr|zzz" not in record.getMessage()
    assert record.exc_text is not None and "Atza|inner" not in record.exc_text
