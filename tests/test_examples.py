"""Every runnable recipe in examples/ runs here against the emulator, as a user would run
it (issue 10: the examples cannot rot): the shell scripts with the real console script on
PATH, the Python scripts with this interpreter and the real SDKs of the test extra."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spconnect.emulator import Emulator
from tests.conftest import CONSOLE_SCRIPT, Cli, Seller

pytestmark = pytest.mark.keyring

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
US = "ATVPDKIKX0DER"


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def orders(seller: Seller, emulator: Emulator) -> dict[str, list[str]]:
    """Orders bought two days ago, yesterday (UTC) and today, by day; getOrders fast."""
    emulator.state.set_rate_limit("getOrders", rate=100, burst=20)
    midnight = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0)
    by_day = {}
    for name, start, count in (
        ("before", midnight - dt.timedelta(days=2), 2),
        ("yesterday", midnight - dt.timedelta(days=1) + dt.timedelta(hours=1), 5),
        ("today", midnight, 1),
    ):
        added = emulator.state.add_orders(
            seller.account.selling_partner_id, count, first_purchase=iso(start)
        )
        by_day[name] = [str(o["AmazonOrderId"]) for o in added]
    return by_day


def start_example(
    cli: Cli, *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an example as a user would, spconnect on PATH; no secret in what it prints."""
    path = os.pathsep.join([str(Path(CONSOLE_SCRIPT).parent), cli.env.get("PATH", "")])
    cwd.mkdir(exist_ok=True)
    completed = subprocess.run(
        list(argv),
        cwd=cwd,
        env={**cli.env, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    for secret in ("Atzr|", "Atza|", "Atz.sprdt|", "amzn1.oa2-cs."):
        assert secret not in completed.stdout + completed.stderr
    return completed


def run_example(cli: Cli, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """``start_example`` that must succeed; returns its stdout."""
    completed = start_example(cli, *argv, cwd=cwd, env=env)
    assert completed.returncode == 0, f"{argv} failed:\n{completed.stdout}{completed.stderr}"
    return completed.stdout


def test_export_of_yesterdays_orders_as_json_lines(
    cli: Cli, seller: Seller, emulator: Emulator, orders: dict[str, list[str]], tmp_path: Path
) -> None:
    script = str(EXAMPLES / "export-yesterdays-orders.sh")
    work = tmp_path / "work"
    run_example(cli, script, "default", US, "out.jsonl", cwd=work, env={"PAGE_SIZE": "2"})
    pages = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert len(pages) == 3  # five orders, two a page
    exported = [o["AmazonOrderId"] for page in pages for o in page["payload"]["Orders"]]
    assert exported == orders["yesterday"]
    # A failed export says why in spconnect's exit code and leaves no file behind.
    emulator.state.revoke(seller.refresh_token)
    failed = start_example(cli, script, "default", US, "failed.jsonl", cwd=work)
    assert failed.returncode == 4
    assert "spconnect reauth -p default" in failed.stderr
    assert sorted(p.name for p in work.iterdir()) == ["out.jsonl"]


@pytest.mark.parametrize("script", ["python_httpx.py", "python_sp_api.py", "python_amzn_sp_api.py"])
def test_python_examples_list_the_weeks_orders(
    cli: Cli, orders: dict[str, list[str]], tmp_path: Path, script: str
) -> None:
    output = run_example(
        cli, sys.executable, str(EXAMPLES / script), "default", cwd=tmp_path / "work"
    )
    listed = [line.split()[0] for line in output.splitlines()]
    every = orders["before"] + orders["yesterday"] + orders["today"]
    assert listed[: len(every)] == every
    if script != "python_httpx.py":  # the SDK examples go on to the buyers' e-mails
        assert output.count("@marketplace.amazon.com") == len(every)


def test_api_and_exec_recipes(cli: Cli, orders: dict[str, list[str]], tmp_path: Path) -> None:
    output = run_example(cli, str(EXAMPLES / "api-and-exec.sh"), "default", cwd=tmp_path / "w")
    lines = output.splitlines()
    assert json.loads(lines[0])["payload"][0]["marketplace"]["id"] == US
    address = json.loads(lines[1])["payload"]
    assert address["AmazonOrderId"] == orders["before"][0]
    assert address["ShippingAddress"]["AddressLine1"] == "1 Main Street"
    assert json.loads(lines[2])["payload"][0]["storeName"] == "Seller default"  # via exec


def test_token_in_scripts_recipe(cli: Cli, orders: dict[str, list[str]], tmp_path: Path) -> None:
    script = str(EXAMPLES / "token-in-scripts.sh")
    output = run_example(cli, script, "default", cwd=tmp_path / "work")
    assert '"storeName": "Seller default"' in output or '"storeName":"Seller default"' in output
    assert orders["yesterday"][0] in output
