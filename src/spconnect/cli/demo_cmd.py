"""``spconnect demo``: see login, token and logout work in a minute, without an Amazon
account."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from spconnect.cli.common import VerboseOpt, setup_verbose
from spconnect.emulator.demo import Step, run_demo
from spconnect.errors import SpconnectError
from spconnect.redaction import redact


def _print(text: str) -> None:
    # The demo's output is what the user asked for: stdout (`spconnect demo | less`),
    # redacted like every other output.
    sys.stdout.write(redact(text) + "\n")
    sys.stdout.flush()


def _show(step: Step) -> None:
    _print(f"\n# {step.title}")
    _print("$ " + " ".join(a if len(a) < 60 else a[:40] + "…" for a in step.argv))
    for line in (step.stdout + step.stderr).rstrip().splitlines():
        _print("  " + line)
    if step.returncode:
        _print(f"  (exit {step.returncode})")


def _end_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the throw-away directory (which holds a secrets
    file) and the login process are cleaned up instead of left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def demo(
    browser: Annotated[
        bool, typer.Option("--browser", help="Click the emulator's consent page yourself.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run login, token and logout against the built-in Amazon emulator.

    Examples:

    \b
        spconnect demo              # about ten seconds, no Amazon account, no keyring
        spconnect demo | less       # the whole transcript
        spconnect demo --browser    # approve on the emulator's consent page yourself
    """
    setup_verbose(verbose)
    _end_on_sigterm()
    if not run_demo(_show, _print, real_browser=browser):
        raise SpconnectError(
            "the demo stopped at a failed step (shown above)",
            "please report this with the output above",
        )
    _print(
        "\nDone. With your own app: `spconnect app add NAME --client-id … --app-id … "
        "--redirect-uri …`, then `spconnect login`.\nTo try `spconnect api` and `exec` on "
        "emulated orders first: `python -m spconnect.emulator` (it prints the commands)."
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
