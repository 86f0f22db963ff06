"""``spconnect completion SHELL``: print the shell completion script, as ``gh completion``
does (issue 9, item 15).

The scripts and the completion protocol are Typer's own (Click's shell completion as
Typer extends it): the script calls ``spconnect`` back with ``_SPCONNECT_COMPLETE`` set,
and the Typer app answers with the commands, options and values that fit, profile and
app names included (read from config.toml). cli/main.py registers Typer's completion
classes only when such a call comes in.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from spconnect.cli.common import choices, out

# Click's convention: _<PROG>_COMPLETE. The generated scripts and run() agree on it.
COMPLETE_VAR = "_SPCONNECT_COMPLETE"


class Shell(str, enum.Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    # A private module of Typer, pinned by tests/test_completion.py, which runs the
    # scripts it makes in the real shells.
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="spconnect", complete_var=COMPLETE_VAR, shell=shell)


def completion(
    shell: Annotated[
        Shell,
        typer.Argument(metavar="SHELL", parser=choices(Shell), help="bash, zsh or fish."),
    ],
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Load it in each new shell by adding one line to the shell's start-up file.

    Examples:

    \b
        # bash, in ~/.bashrc:
        eval "$(spconnect completion bash)"
        # zsh, in ~/.zshrc (after `autoload -Uz compinit && compinit`):
        eval "$(spconnect completion zsh)"
        # fish, once:
        spconnect completion fish > ~/.config/fish/completions/spconnect.fish
    """
    out(completion_script(shell.value) + "\n")


def register(app: typer.Typer) -> None:
    app.command("completion")(completion)
