"""Identifier shapes and the two classic mix-ups (amazon.md section 1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spconnect.amazon import ids
from spconnect.errors import UsageError
from spconnect.names import clean_pasted, is_profile_name

CLIENT_ID = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef"
APP_ID = "amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab"


def test_valid_ids_pass_and_are_cleaned() -> None:
    assert ids.check_client_id(f'  "{CLIENT_ID}"\n') == CLIENT_ID
    assert ids.check_app_id(f"'{APP_ID}'") == APP_ID
    legacy = "amzn1.sellerapps.app.8a2c4b1e-1234-4cde-9f00-0123456789ab"
    assert ids.check_app_id(legacy) == legacy
    assert ids.check_selling_partner_id(" A3FHEXAMPLEYWS ") == "A3FHEXAMPLEYWS"


def test_app_id_given_as_client_id_is_named_as_swapped() -> None:
    with pytest.raises(UsageError, match="is an SP-API application id, not an LWA client id"):
        ids.check_client_id(APP_ID)


def test_client_id_given_as_app_id_is_named_as_swapped() -> None:
    with pytest.raises(UsageError) as info:
        ids.check_app_id(CLIENT_ID)
    assert "is an LWA client id, not an SP-API application id" in info.value.message
    assert "MD1000" in str(info.value.hint)


@pytest.mark.parametrize(
    "bad", ["", "amzn1.application-oa2-client.", "client", "amzn1.sp.solution.x"]
)
def test_malformed_client_ids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="does not look like"):
        ids.check_client_id(bad)


def test_vendor_selling_partner_ids_are_accepted() -> None:
    # amazon.md section 1: vendor groups are amzn1.vg.<digits>.
    assert ids.check_selling_partner_id("amzn1.vg.5172051") == "amzn1.vg.5172051"
    for bad in ("amzn1.vg.", "amzn1.vg.12a", "<b>x</b>", "a3fhexampleyws"):
        with pytest.raises(UsageError, match="malformed"):
            ids.check_selling_partner_id(bad)


def test_refresh_token_shape() -> None:
    assert ids.check_refresh_token(' "Atzr|IwEBIA-abc" \n') == "Atzr|IwEBIA-abc"
    with pytest.raises(UsageError, match="access token"):
        ids.check_refresh_token("Atza|abc")
    with pytest.raises(UsageError, match="does not look like a refresh token"):
        ids.check_refresh_token("hello")
    with pytest.raises(UsageError, match="malformed"):
        ids.check_refresh_token("Atzr|" + "x" * 2048)
    with pytest.raises(UsageError, match="malformed"):
        ids.check_refresh_token("Atzr|abc def")
    for control in ("\x1b[2J", "\x00", "\u202e", "\x7f"):
        with pytest.raises(UsageError, match="control characters"):
            ids.check_refresh_token(f"Atzr|abc{control}def")
        with pytest.raises(UsageError, match="control characters"):
            ids.check_client_secret(f"amzn1.oa2-cs.v1.abc{control}def")


def test_refresh_token_errors_never_repeat_the_value() -> None:
    secret = "Atzr|secret-value-that-must-not-leak with space"
    with pytest.raises(UsageError) as info:
        ids.check_refresh_token(secret)
    assert "secret-value" not in str(info.value)


def test_client_secret_that_is_an_id_is_refused() -> None:
    with pytest.raises(UsageError, match="id, not the client secret"):
        ids.check_client_secret(CLIENT_ID)
    assert ids.check_client_secret(" amzn1.oa2-cs.v1.abc ") == "amzn1.oa2-cs.v1.abc"


@given(st.text())
def test_clean_pasted_is_idempotent_and_never_keeps_outer_whitespace(value: str) -> None:
    once = clean_pasted(value)
    assert clean_pasted(once) == once
    assert once == once.strip()


@given(st.text(min_size=1, max_size=80))
def test_profile_names_are_safe_file_names(name: str) -> None:
    if is_profile_name(name):
        assert "/" not in name and "\\" not in name
        assert not name.startswith(".")
        assert len(name) <= 64
        assert ids.check_profile_name(name) == name
    else:
        with pytest.raises(UsageError):
            ids.check_profile_name(name)
