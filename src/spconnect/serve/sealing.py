"""Sealing a refresh token to the developer's public key (issue 11).

The invite server exchanges the seller's code at once and must then hold nothing it can
decrypt: it seals the refresh token to an X25519 public key whose private half stays in
the developer's keyring, and stores only the sealed text.

Construction (an ECIES in the manner of HPKE's base mode, built from ``cryptography``'s
primitives rather than by hand): a fresh ephemeral X25519 key pair per message; the
shared secret with the recipient's key goes through HKDF-SHA256, salted with both public
keys, into a ChaCha20-Poly1305 key used once. The associated data binds the blob to its
context (invite id, selling partner id, client id), so a blob moved to another invite
row, or to another seller, no longer opens.

Format: ``spc1.<ephemeral public key>.<nonce>.<ciphertext>``, each part base64url without
padding. Everything is bounded: a sealed text over :data:`MAX_SEALED_CHARS` is refused
before any decoding.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "spc1"
INFO = b"spconnect sealed refresh token v1"
KEY_BYTES = 32
NONCE_BYTES = 12
# A sealed refresh token (about 400 characters of JSON) is well under 2 KiB.
MAX_PLAINTEXT_BYTES = 16 * 1024
MAX_SEALED_CHARS = 32 * 1024


class SealError(ValueError):
    """The text is not a sealed blob for this key and context (or was altered)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    if not text or len(text) > MAX_SEALED_CHARS:
        raise SealError(f"{what}: empty or too long")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealError(f"{what}: not base64url") from exc


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair as text: the private half is a secret (keyring only)."""

    private_key: str
    public_key: str


def generate_key_pair() -> KeyPair:
    private = X25519PrivateKey.generate()
    return KeyPair(
        private_key=_b64(private.private_bytes_raw()),
        public_key=_b64(private.public_key().public_bytes_raw()),
    )


def public_key_of(private_key: str) -> str:
    return _b64(_private(private_key).public_key().public_bytes_raw())


def check_public_key(text: str) -> str:
    """The key, unchanged, if it is a base64url X25519 public key; else SealError."""
    _public(text)
    return text


def _public(text: str) -> X25519PublicKey:
    raw = _unb64(text, "public key")
    if len(raw) != KEY_BYTES:
        raise SealError("public key: not 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def _private(text: str) -> X25519PrivateKey:
    raw = _unb64(text, "private key")
    if len(raw) != KEY_BYTES:
        raise SealError("private key: not 32 bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient, info=INFO)
    return hkdf.derive(shared)


def seal(public_key: str, plaintext: bytes, context: bytes) -> str:
    """Encrypt ``plaintext`` so that only the holder of ``public_key``'s private half
    can read it, and only together with the same ``context``."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise SealError("plaintext too long")
    recipient = _public(public_key)
    recipient_raw = recipient.public_bytes_raw()
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(recipient)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ChaCha20Poly1305(_key(shared, ephemeral_raw, recipient_raw)).encrypt(
        nonce, plaintext, context
    )
    return ".".join((PREFIX, _b64(ephemeral_raw), _b64(nonce), _b64(ciphertext)))


def open_sealed(private_key: str, sealed: str, context: bytes) -> bytes:
    """The plaintext of ``sealed``; SealError if it is malformed, altered, sealed to
    another key or opened with another context."""
    if not isinstance(sealed, str) or len(sealed) > MAX_SEALED_CHARS:
        raise SealError("sealed text missing or too long")
    parts = sealed.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise SealError("not a spconnect sealed text")
    ephemeral_raw = _unb64(parts[1], "ephemeral key")
    nonce = _unb64(parts[2], "nonce")
    ciphertext = _unb64(parts[3], "ciphertext")
    if len(ephemeral_raw) != KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise SealError("malformed sealed text")
    private = _private(private_key)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
    except ValueError as exc:  # a low-order point gives an all-zero secret
        raise SealError("malformed ephemeral key") from exc
    key = _key(shared, ephemeral_raw, private.public_key().public_bytes_raw())
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, context)
    except InvalidTag as exc:
        raise SealError("does not open with this key and context") from exc


def invite_context(invite_id: str, selling_partner_id: str, client_id: str) -> bytes:
    """The associated data that binds a sealed refresh token to where it belongs."""
    return f"spconnect invite\n{invite_id}\n{selling_partner_id}\n{client_id}".encode()
