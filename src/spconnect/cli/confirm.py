"""Asking before something destructive (issue 9, "Everyday conventions"): on a terminal
the person is asked; ``--yes`` skips the question; without a terminal the command needs
``--yes`` and says so, because a script that was never asked must not lose data silently.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spconnect.errors import UsageError

YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do it without asking (needed without a terminal).")
]


def _interactive() -> bool:
    import sys

    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def confirm_destructive(what: str, *, yes: bool, command: str) -> None:
    """Go on only if ``yes``, or a person on a terminal agrees to ``what``.

    Without a terminal, or after a "no", raises UsageError (exit 2): nothing changed.
    """
    if yes:
        return
    if not _interactive():
        raise UsageError(f"{what}: refusing without a terminal to ask on", f"add --yes: {command}")
    import questionary

    answer = questionary.confirm(f"{what}. Continue?", default=False).ask()
    if not answer:
        raise UsageError("nothing was changed", f"to skip this question: {command}")
