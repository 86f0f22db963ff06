"""``spconnect api`` and ``spconnect exec`` with a cached token, and ``api --paginate``
under Amazon's throttling (design, "Speed"; issue 10), measured side by side in one run.

    .venv/bin/python benchmarks/api_speed.py [--pages 70] [--rate 5] [--runs 30]

Against the built-in emulator on loopback, with file storage (no keyring needed):

1. ``spconnect api GET /orders/v0/orders/{orderId}`` on a fresh cached token against
   ``python -c pass`` with the same interpreter, runs interleaved. Target (issue 10): at
   most 12x, since httpx is needed.
2. A steady export: ``api --paginate`` over PAGES pages of getOrders, whose usage plan
   is RATE requests per second with Amazon's documented burst of 20. The floor is the
   least time that plan allows, (PAGES - 20) / RATE: the burst at once, then one request
   per refill. Targets: no 429, wall time (process start to exit) at most 1.2x the floor.
   Issue 10 names a 20-page export; with getOrders' burst of 20 those pages all fit in the
   burst, where the floor is zero and the ratio says nothing, so the default is the same
   measurement over 70 pages: the burst, then 50 pages paced by the rate.
   Beside it, for scale, a client that ignores the plan (retries each 429 after 50 ms)
   over the same pages: its 429 count and wall time.
3. ``spconnect exec -- true`` and ``spconnect token`` on a fresh cache against
   ``python -c pass``, runs interleaved (no target in the design; token's is 1.3x).

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from spconnect.emulator import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from token_speed import SCRIPT, Setup, Target, byte_compile_spconnect, interleaved_medians

US = "ATVPDKIKX0DER"
BURST = 20  # getOrders' documented burst, which spconnect spends first (spapi/usage_plans.py)
QUERY = {"MarketplaceIds": US, "CreatedAfter": "2025-01-01", "MaxResultsPerPage": "1"}


API_RATIO_TARGET = 12.0


def cached_api(setup: Setup, runs: int) -> tuple[float, float]:
    """Medians of ``python -c pass`` and of one ``spconnect api`` call (getOrder, its plan
    opened wide so that no run waits), with the token cached."""
    state = setup.emulator.state
    state.set_rate_limit("getOrder", 1000, 1000)
    sp_id = state.refresh_tokens[setup.refresh_token].selling_partner_id or ""
    order_id = str(state.orders[sp_id][0]["AmazonOrderId"])
    setup.cli("token")  # the cache is fresh
    argv = [SCRIPT, "api", f"/orders/v0/orders/{order_id}"]
    return interleaved_medians([sys.executable, "-c", "pass"], argv, setup.env, runs)


def with_orders(setup: Setup, pages: int) -> str:
    """Give the bench profile's authorization an account with ``pages`` orders."""
    state = setup.emulator.state
    account = state.add_account("Bench Exporter")
    state.refresh_tokens[setup.refresh_token].selling_partner_id = account.selling_partner_id
    state.add_orders(account.selling_partner_id, pages)
    return account.selling_partner_id


def paced_export(setup: Setup, pages: int, rate: float) -> tuple[float, int, int]:
    """Wall time, pages printed and 429s of one ``api --paginate`` export."""
    state = setup.emulator.state
    state.set_rate_limit("getOrders", rate, BURST)
    before = setup.emulator.count("getOrders:throttled")
    argv = [SCRIPT, "api", "--paginate", "/orders/v0/orders"]
    argv += [arg for name, value in QUERY.items() for arg in ("-f", f"{name}={value}")]
    started = time.perf_counter()
    result = subprocess.run(argv, env=setup.env, text=True, capture_output=True, check=True)
    wall = time.perf_counter() - started
    throttled = setup.emulator.count("getOrders:throttled") - before
    return wall, len(result.stdout.splitlines()), throttled


def unpaced_export(setup: Setup, rate: float) -> tuple[float, int, int]:
    """The same export by a loop that ignores the usage plan."""
    setup.emulator.state.set_rate_limit("getOrders", rate, BURST)
    before = setup.emulator.count("getOrders:throttled")
    token = setup.cli("token").strip()
    params, pages = dict(QUERY), 0
    started = time.perf_counter()
    with httpx.Client(base_url=setup.emulator.url, timeout=10) as client:
        while True:
            response = client.get(
                "/orders/v0/orders", params=params, headers={"x-amz-access-token": token}
            )
            if response.status_code == 429:
                time.sleep(0.05)
                continue
            pages += 1
            next_token = response.json()["payload"].get("NextToken")
            if not next_token:
                break
            params["NextToken"] = next_token
    wall = time.perf_counter() - started
    return wall, pages, setup.emulator.count("getOrders:throttled") - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=70)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if args.pages <= BURST:
        parser.error(f"--pages must exceed the burst ({BURST}) for a steady export")
    byte_compile_spconnect()
    targets: list[Target] = []
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} ({sys.executable})"
    )
    with Emulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        setup = Setup(emulator, tmp, storage="file")
        with_orders(setup, args.pages)
        base, api_time = cached_api(setup, args.runs)
        print(
            f"cached api:      python -c pass {base * 1000:.1f} ms, spconnect api GET "
            f"/orders/v0/orders/ID {api_time * 1000:.1f} ms (medians of {args.runs}); ratio "
            f"{api_time / base:.2f} (target <= {API_RATIO_TARGET:.2f})"
        )
        met = api_time / base <= API_RATIO_TARGET
        targets.append(Target("cached api <= 12x python -c pass", met))
        floor = (args.pages - BURST) / args.rate
        wall, printed, throttled = paced_export(setup, args.pages, args.rate)
        print(
            f"paced export:    {printed} pages at {args.rate:g}/s, burst {BURST}: {wall:.2f} s, "
            f"{throttled} x 429; floor {floor:.2f} s; ratio {wall / floor:.2f} "
            "(target: 0 x 429, <= 1.20)"
        )
        targets.append(Target("api --paginate: every page", printed == args.pages))
        targets.append(Target("api --paginate: no 429", throttled == 0))
        targets.append(Target("api --paginate <= 1.2x the floor", wall / floor <= 1.2))
        naive_wall, naive_pages, naive_throttled = unpaced_export(setup, args.rate)
        print(
            f"unpaced loop:    {naive_pages} pages: {naive_wall:.2f} s, {naive_throttled} x 429 "
            "(no target: for scale)"
        )

        base, exec_time = interleaved_medians(
            [sys.executable, "-c", "pass"], [SCRIPT, "exec", "--", "true"], setup.env, args.runs
        )
        _, token_time = interleaved_medians(
            [sys.executable, "-c", "pass"], [SCRIPT, "token"], setup.env, args.runs
        )
        print(
            f"cached exec:     python -c pass {base * 1000:.1f} ms, spconnect exec -- true "
            f"{exec_time * 1000:.1f} ms, spconnect token {token_time * 1000:.1f} ms (medians of "
            f"{args.runs}); exec ratio {exec_time / base:.2f} (no target; token's is 1.30)"
        )
    missed = [t.label for t in targets if not t.met]
    print("targets met" if not missed else "TARGET MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
