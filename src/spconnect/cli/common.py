"""What every command shares: the -p/-v options, stderr messages, reading secrets."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from spconnect.errors import UsageError
from spconnect.names import clean_pasted
from spconnect.redaction import RedactingFilter, for_display, register_secret

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        envvar="SPCONNECT_PROFILE",
        help="Profile name (default: $SPCONNECT_PROFILE, else 'default').",
    ),
]
InsecureStorageOpt = Annotated[
    bool,
    typer.Option("--insecure-storage", help="Keep secrets in a 0600 file, not the keyring."),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="More detail on stderr (secrets redacted).")
]


def setup_verbose(verbose: bool) -> None:
    """Send spconnect's log records to stderr, through the redaction filter."""
    if not verbose:
        return
    logger = logging.getLogger("spconnect")
    if any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("spconnect: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def say(message: str) -> None:
    """A message for the person (stderr), through the display filter like every other
    output: secrets masked, control characters stripped (multi-line messages keep their
    newlines)."""
    sys.stderr.write(for_display(message) + "\n")
    sys.stderr.flush()


def out(text: str) -> None:
    """Data for scripts (stdout)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def read_secret(*, from_stdin: bool, what: str, flag: str) -> str:
    """A secret from stdin (``--*-stdin``) or a hidden prompt; never from argv."""
    if from_stdin:
        value = clean_pasted(sys.stdin.read())
    elif stdin_is_terminal():
        import getpass

        value = clean_pasted(getpass.getpass(f"{what} (input hidden): "))
    else:
        raise UsageError(
            f"no {what} was given and there is no terminal to ask on",
            f"pipe it in with {flag}",
        )
    if not value:
        raise UsageError(f"the {what} is empty", f"pipe it in with {flag} or type it at the prompt")
    register_secret(value)
    return value
