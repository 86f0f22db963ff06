"""The design's speed targets, measured side by side in one run.

    .venv/bin/python benchmarks/token_speed.py [--runs 60]

1. Cached ``spconnect token`` (the real console script) against ``python -c pass`` with the
   same interpreter: median wall time of each, runs interleaved so that both see the same
   machine load. Target: ratio at most 2.0.
2. Fifty parallel ``spconnect token`` on an expired cache against the built-in emulator:
   how many token-endpoint requests they make, and whether all print the same token.
   Target: exactly 1 request, 1 distinct token.
3. A consent login: from the listener receiving the callback to ``spconnect login``
   exiting with the tokens stored, against one LWA round trip measured beside it.
   Target: under 1 s plus one round trip.

Runs in a throw-away config with file storage (``--insecure-storage``), so that it needs no
Secret Service; the cached path never touches the secret store either way. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from spconnect.emulator import Emulator

SCRIPT = str(Path(sys.executable).with_name("spconnect"))


def wall_time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _consent_login(
    emulator: Emulator, env: dict[str, str], refresh_token: str, app: object
) -> tuple[float, float]:
    """Time a real `spconnect login` from the callback to exit, and one LWA round trip."""
    import httpx

    from spconnect.amazon.lwa import LwaClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = emulator.state.add_account("Bench Seller")
    emulator.state.auto_approve = account.selling_partner_id
    login = subprocess.Popen(
        [
            SCRIPT,
            "login",
            "-p",
            "consent",
            "--no-browser",
            "--marketplace",
            "US",
            "--port",
            str(port),
        ],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert login.stderr is not None
    url = next(line.strip() for line in login.stderr if "/apps/authorize/consent?" in line)
    location = httpx.get(url, timeout=10).headers["location"]
    started = time.perf_counter()
    httpx.get(f"http://127.0.0.1:{port}/callback?{location.split('?', 1)[1]}", timeout=10)
    login.stderr.read()
    if login.wait(30) != 0:
        raise SystemExit("the consent login failed")
    callback_s = time.perf_counter() - started

    secret = emulator.state.apps[app.client_id].client_secret  # type: ignore[attr-defined]
    lwa = LwaClient(emulator.token_url)
    started = time.perf_counter()
    lwa.refresh(
        client_id=app.client_id,
        client_secret=secret,  # type: ignore[attr-defined]
        refresh_token=refresh_token,
    )
    return callback_s, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=50)
    args = parser.parse_args()

    with Emulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        app = emulator.state.register_app("bench")
        refresh_token = emulator.state.self_authorize(app.client_id)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPCONNECT_")}
        env.update(
            SPCONNECT_CONFIG_DIR=f"{tmp}/config",
            SPCONNECT_CACHE_DIR=f"{tmp}/cache",
            **emulator.environment(),
        )

        def cli(*argv: str, stdin: str = "") -> str:
            return subprocess.run(
                [SCRIPT, *argv], input=stdin, env=env, text=True, capture_output=True, check=True
            ).stdout

        cli(
            "app",
            "add",
            "bench",
            "--client-id",
            app.client_id,
            "--app-id",
            app.app_id,
            "--redirect-uri",
            app.redirect_uris[0],
            "--client-secret-stdin",
            "--insecure-storage",
            stdin=app.client_secret,
        )
        cli("login", "--refresh-token-stdin", "--marketplace", "US", stdin=refresh_token)
        cli("token")

        baseline, cached = [], []
        for _ in range(args.runs):  # interleaved: both see the same load
            baseline.append(wall_time([sys.executable, "-c", "pass"], env))
            cached.append(wall_time([SCRIPT, "token"], env))
        base_ms = statistics.median(baseline) * 1000
        token_ms = statistics.median(cached) * 1000
        ratio = token_ms / base_ms

        cache_file = Path(tmp, "cache", "tokens", "default.json")
        entry = json.loads(cache_file.read_text())
        entry["refresh_at"] = entry["expires_at"] = time.time() - 10
        cache_file.write_text(json.dumps(entry))
        before = emulator.count("refresh_token")

        def call(_: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run([SCRIPT, "token"], env=env, text=True, capture_output=True)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            results = list(pool.map(call, range(args.parallel)))
        parallel_s = time.perf_counter() - started
        requests = emulator.count("refresh_token") - before
        failures = sum(r.returncode != 0 for r in results)
        distinct = len({r.stdout for r in results if r.returncode == 0})

        callback_s, round_trip_s = _consent_login(emulator, env, refresh_token, app)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} ({sys.executable})"
    )
    print(
        f"cached token:  python -c pass {base_ms:.1f} ms, spconnect token {token_ms:.1f} ms "
        f"(medians of {args.runs}); ratio {ratio:.2f} (target <= 2.00)"
    )
    print(
        f"cold cache:    {args.parallel} parallel spconnect token -> {requests} token request(s), "
        f"{distinct} distinct token(s), {failures} failure(s), {parallel_s:.1f} s "
        "(target: 1 request, 1 token, 0 failures)"
    )
    print(
        f"consent login: callback to tokens stored {callback_s * 1000:.0f} ms (process exit "
        f"included), one LWA round trip {round_trip_s * 1000:.0f} ms "
        f"(target < 1000 ms + one round trip)"
    )
    met = (
        ratio <= 2.0
        and requests == 1
        and distinct == 1
        and failures == 0
        and callback_s < 1.0 + round_trip_s
    )
    print("targets met" if met else "TARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
