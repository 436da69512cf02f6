"""The API under load: ``payoutwatch serve`` on the reference data, driven over loopback by an async client.

    python bench/load.py --scale 1.0 --json bench/results/load-postgresql-1.0.json

Starts a throwaway PostgreSQL cluster (bench/data/pg, as bench/run.py does), generates the reference data
of the scale if it is missing, creates an admin token, starts ``payoutwatch serve`` on a free loopback port
and, at 1, 8 and 32 concurrent clients, sends a bounded number of requests to each endpoint: every
dashboard (as of the data's last instant), ``/metrics``, and ``/healthz`` (a static answer: the
framework's floor), after one evaluation so that the loop inside ``serve`` is in its steady state.
Each (endpoint, clients) pair gives requests/s and p50 / p95 / p99 latency in the JSON rows of
bench/run.py; ``baseline`` is ``/healthz`` at the same concurrency. Every answer must be
200, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
import yaml  # noqa: E402

from bench.generate import END  # noqa: E402
from bench.run import DATA, Bench  # noqa: E402
from payoutwatch.metrics import DASHBOARD_NAMES  # noqa: E402

CLIENTS = (1, 8, 32)
CLI = str(Path(sys.executable).with_name("payoutwatch"))


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str


def endpoints() -> list[Endpoint]:
    at = END.isoformat().replace("+00:00", "Z")
    return [
        Endpoint("healthz", "/healthz"),
        *(Endpoint(f"dashboard_{name}", f"/api/v1/dashboards/{name}?at={at}") for name in DASHBOARD_NAMES),
        Endpoint("metrics", "/metrics"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, url: str) -> Path:
    config = folder / "payoutwatch.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": url}, "schedule": {"start": "2023-12-07"}}))
    return config


def admin_token(config: Path) -> str:
    done = subprocess.run(
        [CLI, "--config", str(config), "token", "create", "--name", "bench-load", "--role", "admin"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PAYOUTWATCH_USER": "bench"},
    )
    return done.stdout.strip().splitlines()[-1]


def settle(config: Path) -> None:
    """One evaluation (and its deliveries) before serving, so ``serve``'s loop runs in its steady state
    while requests are measured: a first evaluation of the reference data fires thousands of alerts
    and delivers each in the same process as the requests."""
    subprocess.run(
        [CLI, "--config", str(config), "evaluate"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PAYOUTWATCH_USER": "bench"},
    )


@contextmanager
def served(config: Path) -> Iterator[str]:
    """``payoutwatch serve`` on a free loopback port until ``/healthz`` answers; stopped with SIGTERM."""
    port = free_port()
    log = (config.parent / "serve.log").open("w")
    process = subprocess.Popen(
        [CLI, "--config", str(config), "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"serve did not start: {(config.parent / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


async def drive(client: httpx.AsyncClient, path: str, clients: int, requests: int) -> tuple[float, list[float]]:
    """``requests`` GETs of ``path`` by ``clients`` concurrent workers: (requests/s, latencies in ms)."""
    remaining = requests
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return requests / (time.perf_counter() - started), latencies


def percentile(samples: list[float], p: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[round(p) - 1]


async def measure(base: str, token: str, requests: int, scale: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=max(CLIENTS), max_keepalive_connections=max(CLIENTS))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as client:
        for endpoint in endpoints():  # warm: caches, compiled statements, pooled connections
            await drive(client, endpoint.path, 2, 4)
        for clients in CLIENTS:
            floor: dict[str, float] = {}
            for endpoint in endpoints():
                rate, latencies = await drive(client, endpoint.path, clients, max(requests, 2 * clients))
                figures = {
                    "rate": (rate, "requests/s"),
                    "p50": (percentile(latencies, 50), "ms"),
                    "p95": (percentile(latencies, 95), "ms"),
                    "p99": (percentile(latencies, 99), "ms"),
                }
                for key, (value, unit) in figures.items():
                    if endpoint.name == "healthz":
                        floor[key] = value
                    rows.append(row(f"load_{endpoint.name}_c{clients}_{key}", value, unit, floor[key], scale))
    return rows


def row(metric: str, value: float, unit: str, base: float, scale: float) -> dict[str, Any]:
    line = {
        "metric": metric,
        "store": "postgresql",
        "scale": scale,
        "value": round(value, 2),
        "unit": unit,
        "baseline": round(base, 2),
        "ratio": round(value / base, 2) if base else None,
    }
    print(f"{metric:<48} {value:>10.2f} {unit:<11} (/healthz {base:.2f})", flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint and concurrency level")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    bench = Bench("postgresql", args.scale, repeat=1)
    try:
        engine = bench.dataset()
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="pw-load-") as folder:
            config = write_config(Path(folder), url)
            token = admin_token(config)
            settle(config)
            with served(config) as base:
                rows = asyncio.run(measure(base, token, args.requests, args.scale))
    finally:
        bench.close()
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
