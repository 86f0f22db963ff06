"""The one redaction filter."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from spconnect import redaction
from spconnect.redaction import MASK, RedactingFilter, forget_secret, redact, register_secret


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


# -- encoded forms (issue 8, section 2) ----------------------------------------------------

REFRESH = "Atzr|IwEBIJ4-secret/part+more==tail"
CLIENT_SECRET = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef"
# A restricted data token's shape (the Tokens API's answer; amazon.md section 9).
RDT = "Atz.sprdt|IwEBIrdt-_secret/part+more=="


def _encodings(value: str) -> dict[str, str]:
    import json
    from urllib.parse import quote, quote_plus

    return {
        "percent": quote(value, safe=""),
        "percent, lower-case hex": quote(value, safe="").replace("%7C", "%7c"),
        "percent, '/' kept": quote(value),
        "form (quote_plus)": quote_plus(value),
        "percent twice": quote(quote(value, safe=""), safe=""),
        "JSON": json.dumps(value),
        "JSON, escaped slashes": json.dumps(value).replace("/", "\\/"),
        "JSON, \\u escapes": json.dumps(value).replace("|", "\\u007c").replace("+", "\\u002B"),
        "HTML reference": value.replace("|", "&#124;"),
        "HTML hex reference": value.replace("|", "&#x7C;").replace("/", "&#x2f;"),
    }


@pytest.mark.parametrize("how", list(_encodings(REFRESH)))
def test_encoded_forms_of_a_registered_secret_are_masked(how: str) -> None:
    # Registered, not shape-matched: a value without Amazon's prefixes.
    secret = "opaque|value/with+plus and space=="
    register_secret(secret)
    encoded = _encodings(secret)[how]
    out = redact(f"error: bad request body=grant_type=x&client_secret={encoded}&z=1")
    assert MASK in out, how
    assert "opaque" not in out and "plus" not in out, (how, out)


@pytest.mark.parametrize("how", list(_encodings(REFRESH)))
@pytest.mark.parametrize("secret", [REFRESH, CLIENT_SECRET, "Atza|IwEBIaccess/x+y", RDT])
def test_encoded_forms_of_secret_shapes_are_masked_unregistered(how: str, secret: str) -> None:
    encoded = _encodings(secret)[how]
    out = redact(f"echo: refresh_token={encoded}&client_id=amzn1.application-oa2-client.1")
    assert MASK in out, (how, out)
    for fragment in ("IwEBIJ4", "0123456789abcdef", "IwEBIaccess", "IwEBIrdt", "secret", "part"):
        assert fragment not in out, (how, out)
    assert "client_id=amzn1.application-oa2-client.1" in out  # the rest is kept


def test_an_encoded_authorization_code_in_an_echoed_redirect_uri_is_masked() -> None:
    echoed = "redirect_uri=https%3A%2F%2Fx%2Fcb%3Fstate%3D1.ab%26code%3DANsecretcode%26x%3D1"
    out = redact(echoed)
    assert "ANsecretcode" not in out and "%26x%3D1" in out
    assert "ANjson" not in redact('{"spapi_oauth_code": "ANjson"}')


def test_ordinary_text_is_left_alone() -> None:
    text = "error code=InvalidInput; 100% of 3 + 4 = 7 & done; \\u0041 | pipes"
    assert redact(text) == text


def test_secret_shape_names_the_kind() -> None:
    from spconnect.redaction import secret_shape

    assert secret_shape("--format=Atza|abc") == "an access token"
    assert secret_shape("Atzr%7Cabc") == "a refresh token"
    assert secret_shape(CLIENT_SECRET) == "a client secret"
    # Refused on a command line as an access token is: it stands in for one.
    assert secret_shape(f"-f=x={RDT}") == "an access token"
    assert secret_shape("Atz.sprdt%7Cabc") == "an access token"
    assert secret_shape("Atz-sprdt|abc") is None
    assert secret_shape("amzn1.application-oa2-client.0123") is None
    assert secret_shape("raw") is None


# -- control characters (issue 8, section 5) -----------------------------------------------


def test_control_characters_and_bidi_overrides_are_stripped_newlines_kept() -> None:
    from spconnect.redaction import for_display, strip_controls

    hostile = (
        "line one\x1b[31m red\x1b[0m\x1b]0;new title\x07\x1b]8;;https://evil.example\x1b\\"
        "link\x1b]8;;\x1b\\\r\nline two\rover\u202eexe.txt\x00\x07\x9b2J\x85end\tx"
    )
    out = strip_controls(hostile)
    assert out == "line one redlink\nline twooverexe.txtendx".replace("endx", "end x")
    assert for_display(hostile, multiline=False).count("\n") == 0
    for char in out:
        assert char == "\n" or char.isprintable(), repr(char)


def test_a_control_character_cannot_split_a_secret_past_redaction() -> None:
    from spconnect.redaction import for_display

    assert "IwEBIsplit" not in for_display("Atz\x1b[0mr|IwEBIsplit")


def test_a_secret_costs_nothing_until_a_text_could_hold_it_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The invite server registers a code and two tokens per seller and logs none of
    them: the pattern of a value's encoded forms is compiled when first needed, once."""
    from urllib.parse import quote

    compiled: list[object] = []
    compile_pattern = redaction.re.compile

    def counted(*args: Any, **kwargs: Any) -> Any:
        compiled.append(args)
        return compile_pattern(*args, **kwargs)

    monkeypatch.setattr(redaction.re, "compile", counted)
    secret = "opaque|seller-code/value"
    register_secret(secret)
    assert redact("127.0.0.1 GET /spconnect/callback 200 12 ms") == (
        "127.0.0.1 GET /spconnect/callback 200 12 ms"
    )
    assert compiled == []
    for _ in range(3):
        assert redact(f"echo: code={quote(secret, safe='')}") == f"echo: code={MASK}"
    assert len(compiled) == 1
    forget_secret(secret)


def test_a_forgotten_secret_is_no_longer_masked_in_any_form() -> None:
    from urllib.parse import quote

    secret = "opaque|forgotten/value"
    register_secret(secret)
    assert MASK in redact(quote(secret, safe="")) and MASK in redact(secret)
    forget_secret(secret)
    assert redact(quote(secret, safe="")) == quote(secret, safe="")
    assert redact(secret) == secret
