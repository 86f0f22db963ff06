"""Sealing refresh tokens to the developer's key (issue 11): real X25519 and AEAD."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spconnect.serve import sealing

CONTEXT = sealing.invite_context("inv1", "A1SELLER", "amzn1.application-oa2-client.x")


def test_a_sealed_token_opens_with_the_private_key_and_context() -> None:
    pair = sealing.generate_key_pair()
    sealed = sealing.seal(pair.public_key, b"Atzr|secret", CONTEXT)
    assert b"Atzr" not in sealed.encode()
    assert sealing.open_sealed(pair.private_key, sealed, CONTEXT) == b"Atzr|secret"
    assert sealing.public_key_of(pair.private_key) == pair.public_key


def test_two_seals_of_one_token_differ() -> None:
    pair = sealing.generate_key_pair()
    assert sealing.seal(pair.public_key, b"t", CONTEXT) != sealing.seal(
        pair.public_key, b"t", CONTEXT
    )


def test_another_key_cannot_open_it() -> None:
    sealed = sealing.seal(sealing.generate_key_pair().public_key, b"t", CONTEXT)
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(sealing.generate_key_pair().private_key, sealed, CONTEXT)


def test_a_blob_moved_to_another_invite_or_seller_does_not_open() -> None:
    pair = sealing.generate_key_pair()
    sealed = sealing.seal(pair.public_key, b"t", CONTEXT)
    for other in (
        sealing.invite_context("inv2", "A1SELLER", "amzn1.application-oa2-client.x"),
        sealing.invite_context("inv1", "A2OTHER", "amzn1.application-oa2-client.x"),
    ):
        with pytest.raises(sealing.SealError):
            sealing.open_sealed(pair.private_key, sealed, other)


def test_a_public_key_is_checked() -> None:
    pair = sealing.generate_key_pair()
    assert sealing.check_public_key(pair.public_key) == pair.public_key
    for bad in ("", "x", "A" * 44, "!!!!", "A" * 100_000):
        with pytest.raises(sealing.SealError):
            sealing.check_public_key(bad)


@given(st.text(max_size=300))
def test_any_text_is_refused_cleanly(text: str) -> None:
    pair = sealing.generate_key_pair()
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(pair.private_key, text, CONTEXT)


@given(
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=1, max_value=255),
)
def test_any_altered_byte_is_refused(part: int, position: int, xor: int) -> None:
    pair = sealing.generate_key_pair()
    parts = sealing.seal(pair.public_key, b"Atzr|secret", CONTEXT).split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" * (-len(parts[part]) % 4)))
    raw[position % len(raw)] ^= xor
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(pair.private_key, ".".join(parts), CONTEXT)
