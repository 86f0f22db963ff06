"""``spconnect demo``: see login, token and logout work in a minute, without an Amazon
account."""

from __future__ import annotations

from typing import Annotated

import typer

from spconnect.cli.common import ProfileOpt, VerboseOpt, say, setup_verbose
from spconnect.emulator.demo import Step, run_demo
from spconnect.errors import SpconnectError


def _show(step: Step) -> None:
    say(f"\n# {step.title}")
    say("$ " + " ".join(a if len(a) < 60 else a[:40] + "…" for a in step.argv))
    for line in (step.stdout + step.stderr).rstrip().splitlines():
        say("  " + line)
    if step.returncode:
        say(f"  (exit {step.returncode})")


def demo(
    browser: Annotated[
        bool, typer.Option("--browser", help="Click the emulator's consent page yourself.")
    ] = False,
    profile: ProfileOpt = "default",
    verbose: VerboseOpt = False,
) -> None:
    """Run login, token and logout against the built-in Amazon emulator."""
    setup_verbose(verbose)
    if not run_demo(_show, lambda text: say(text), real_browser=browser):
        raise SpconnectError(
            "the demo stopped at a failed step (shown above)",
            "please report this with the output above",
        )
    say(
        "\nDone. With your own app: `spconnect app add NAME --client-id … --app-id … "
        "--redirect-uri …`, then `spconnect login`."
    )
