"""Helpers for tests that play the person's browser against a running `spconnect login`."""

from __future__ import annotations

from tests.conftest import LoginProcess


def _printed(login: LoginProcess, marker: str) -> str:
    # Both addresses are printed before the prompt, the start address first: once the
    # consent URL is there, so is the start address.
    if not any("/apps/authorize/consent?" in line for line in login.stderr_lines):
        login.consent_url()
    return next(line.strip() for line in login.stderr_lines if marker in line)


def start_address(login: LoginProcess) -> str:
    """The single-use start address the login printed for a browser on this machine."""
    return _printed(login, "spconnect_start=")


def printed_consent_url(login: LoginProcess) -> str:
    """The consent URL the login printed, whether or not it was already waited for."""
    return _printed(login, "/apps/authorize/consent?")
