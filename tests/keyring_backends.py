"""Keyring backends for failure cases that a healthy Secret Service cannot produce on
demand: hung, locked, leaking the secret in its error, plaintext. They are real keyring
backends, loaded by the real keyring library through PYTHON_KEYRING_BACKEND in the CLI
subprocess; only the failure itself is simulated, and that is all they are used for.
(keyrings.alt's PlaintextKeyring is not installed here, hence PlaintextKeyring below.)
"""

from __future__ import annotations

import time

from keyring.backend import KeyringBackend
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from keyring.errors import KeyringLocked


class _Base(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


class HangingKeyring(_Base):
    """Like a Secret Service waiting forever on an unlock prompt nobody sees."""

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(60)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(60)


class LockedKeyring(_Base):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")


class LeakyKeyring(_Base):
    """A backend whose error message repeats the password (seen in the wild)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"could not store {password!r} for {username}")


class PlaintextKeyring(_Base):
    """Stands in for keyrings.alt.file.PlaintextKeyring (name-based detection)."""


class FailingKeyring(_Base):
    """Fails every call, opening included: proves that a path never touches the keyring."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("FailingKeyring refuses every call")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("FailingKeyring refuses every call")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("FailingKeyring refuses every call")


class SlowSecretService(SecretServiceKeyring):
    """The real Secret Service, answering after BUSY seconds: a busy machine, not a hang."""

    BUSY = 1.6

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(self.BUSY)
        return super().get_password(service, username)


class StuckSecretService(SecretServiceKeyring):
    """The real Secret Service (unlocked, answering) behind a call that never returns."""

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(60)
        return None
