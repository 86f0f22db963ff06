"""``spconnect switch``: choose the default profile, as ``gh auth switch`` does (issue 9,
item 15). The choice lives in store/default_profile.py's one-line file."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from spconnect.cli.common import VerboseOpt, profile_names, say, setup_verbose
from spconnect.errors import UsageError
from spconnect.store import default_profile
from spconnect.workspace import Workspace


def switch(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            autocompletion=profile_names,
            help="A logged-in profile (`spconnect status --all` lists them).",
            show_default=False,
        ),
    ] = None,
    unset: Annotated[
        bool, typer.Option("--unset", help="Forget the choice: 'default' is the default again.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Make a profile the default for every command.

    The rule, most specific first: -p NAME, then $SPCONNECT_PROFILE, then the profile
    chosen here, then 'default'. `spconnect status` shows which one is in effect.

    Examples:

    \b
        spconnect switch prod      # `spconnect token` now prints prod's token
        spconnect status           # shows prod, marked as the default
        spconnect switch --unset   # back to the profile named 'default'
    """
    setup_verbose(verbose)
    if unset:
        if name is not None:
            raise UsageError("give a profile name or --unset, not both")
        had = default_profile.clear()
        say(
            "The default profile is 'default' again."
            if had
            else "No default profile was chosen; it is 'default'."
        )
        _note_environment(default_profile.BUILTIN)
        return
    ws = Workspace()
    if name is None:
        known = ", ".join(sorted(ws.config.profiles)) or "none yet"
        raise UsageError(
            f"name the profile to make the default (profiles: {known})",
            "spconnect switch NAME",
        )
    ws.config.profile(name)  # exit 3, with a close name suggested, for an unknown one
    default_profile.write(name)
    say(f"The default profile is now {name!r}: commands use it unless -p names another.")
    _note_environment(name)


def _note_environment(name: str) -> None:
    variable = default_profile.ENVIRONMENT_VARIABLE
    value = os.environ.get(variable)
    if value and value != name:
        say(f"Note: ${variable} is set to {value!r} here, and wins over the default profile.")


def register(app: typer.Typer) -> None:
    app.command("switch")(switch)
