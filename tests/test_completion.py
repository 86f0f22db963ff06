"""Shell completion (issue 9, item 15): the scripts `spconnect completion SHELL` prints,
loaded as the README says, run in the real shells against the real console script.

bash: the completion function is called as bash's completion machinery calls it
(COMP_WORDS, COMP_CWORD) and COMPREPLY is read back. fish: its own engine
(`complete -C`). zsh: the function runs in real zsh, with the two compsys functions it
hands its answer to (`_arguments`, `_files`) replaced by ones that print their arguments,
because compsys itself only runs inside an interactive line editor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller, login_self_authorized, skip_or_fail

BIN = str(Path(CONSOLE_SCRIPT).parent)


def shell(cli: Cli, argv: list[str], script: str) -> list[str]:
    env = {**cli.env, "PATH": BIN + os.pathsep + cli.env.get("PATH", "")}
    completed = subprocess.run([*argv, script], capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stdout.splitlines()


def bash(cli: Cli, *words: str) -> list[str]:
    """What bash offers for the command line ``words`` (the last one being completed)."""
    array = " ".join(f"'{w}'" for w in ("spconnect", *words))
    script = f"""
        eval "$(spconnect completion bash)"
        COMP_WORDS=({array}); COMP_CWORD={len(words)}
        _spconnect_completion spconnect
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    return [line for line in shell(cli, ["bash", "--norc", "--noprofile", "-c"], script) if line]


def test_bash_completes_commands_options_and_choices(cli: Cli) -> None:
    assert bash(cli, "st") == ["status"]
    assert bash(cli, "sw") == ["switch"]
    assert bash(cli, "app", "s") == ["show", "set-secret"]
    assert "--format" in bash(cli, "token", "--f")
    assert bash(cli, "token", "--format", "") == ["raw", "header", "json", "env"]
    assert bash(cli, "completion", "") == ["bash", "zsh", "fish"]


@pytest.mark.keyring
def test_bash_completes_profile_and_app_names(cli: Cli, seller: Seller, emulator: Emulator) -> None:
    login_self_authorized(cli, emulator, profile="eu")
    assert bash(cli, "status", "-p", "") == ["default", "eu"]
    assert bash(cli, "-p", "e") == ["eu"]  # before the command too
    assert bash(cli, "switch", "d") == ["default"]
    assert bash(cli, "app", "show", "") == ["demo"]


def test_bash_completes_the_invite_commands_and_server_names(cli: Cli) -> None:
    from tests.test_invite_config import SERVER

    assert bash(cli, "inv") == ["invite"]
    assert bash(cli, "invite", "") == ["create", "list", "pull", "revoke"]
    assert bash(cli, "server", "") == ["add", "list", "remove"]
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text(SERVER + SERVER.replace(".prod]", ".staging]"))
    assert bash(cli, "invite", "pull", "--server", "") == ["prod", "staging"]
    assert bash(cli, "server", "remove", "s") == ["staging"]


def test_bash_completion_survives_a_broken_config(cli: Cli) -> None:
    cli.config_dir.mkdir(parents=True)
    (cli.config_dir / "config.toml").write_text("not toml [")
    assert bash(cli, "status", "-p", "") == []
    assert bash(cli, "st") == ["status"]


def needs(program: str) -> None:
    if shutil.which(program) is None:
        # scripts/test installs zsh and fish: under CI a missing shell is a failure.
        skip_or_fail(f"{program} is not installed (apt-get install {program})")


def test_fish_completes_with_its_own_engine(cli: Cli) -> None:
    needs("fish")
    script = """
        spconnect completion fish | source
        complete -C 'spconnect st'
        complete -C 'spconnect token --format '
    """
    lines = shell(cli, ["fish", "--no-config", "-c"], script)
    assert lines[0].startswith("status\tWhat is connected")
    assert sorted(lines[1:]) == ["env", "header", "json", "raw"]


def test_zsh_function_hands_the_choices_to_compsys(cli: Cli) -> None:
    needs("zsh")
    script = """
        compdef() { print -r -- "compdef $*"; }
        _arguments() { print -r -- "_arguments $*"; }
        _files() { print -r -- "_files"; }
        eval "$(spconnect completion zsh)"
        words=(spconnect st); CURRENT=2; _spconnect_completion
        words=(spconnect token --format ''); CURRENT=4; _spconnect_completion
        words=(spconnect relay-page -o ''); CURRENT=4; _spconnect_completion
    """
    lines = shell(cli, ["zsh", "-f", "-c"], script)
    assert lines[0] == "compdef _spconnect_completion spconnect"
    assert lines[1].startswith('_arguments *: :(("status":"What is connected')
    assert lines[2] == '_arguments *: :(("raw" "header" "json" "env"))'
    assert lines[3] == "_files"  # a file name is wanted: zsh completes files
