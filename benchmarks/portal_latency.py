"""Benchmark: the portal over a month of 1,000 pods in a PostgreSQL ledger.

    python -m benchmarks.portal_latency --keep DIR   (the month of `benchmarks.ledger_month --keep DIR`)

The month is generated (or reused from `--keep`), collected once by `kubecharge report` into a fresh PostgreSQL
database, and `kubecharge serve` (a real uvicorn process, `--auth kubernetes`) answers over it, its viewers'
tokens and access reviewed by the Kubernetes emulator (a platform-wide viewer: every team, the heaviest answers).
Measured, after one request of each route (the period priced and the reviews made — warm):
- `GET /api/v1/costs?period=…&aggregate=team` and a team page, 200 requests each one after the other: p50, p95;
- 50 clients at once for 60 s over the overview, a team page, the API and a download: requests, errors, p95;
- the first (cold) answer of the API: pricing the month from the ledger.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube
from tests.portal.reviewing import ReviewingEmulator
from tests.support.postgres import fresh_database, throwaway_postgres

from benchmarks.ledger_month import START, ensure_history
from benchmarks.measure import Shape, month_main
from kubecharge.synthetic.local_prometheus import LocalPrometheus, free_port
from kubecharge.synthetic.model import build_cluster

TOKEN = "benchmark-viewer"
REPORT = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
          "metadata": {"name": "monthly", "namespace": "finops"},
          "spec": {"recommendations": {"enabled": False}}}  # fmt: skip
CLIENTS, LOAD_SECONDS, SEQUENTIAL = 50, 60.0, 200


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _timed(session: requests.Session, url: str) -> tuple[float, int]:
    began = time.perf_counter()
    answer = session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    return time.perf_counter() - began, answer.status_code


def run(shape: Shape, work: Path) -> dict[str, Any]:
    cluster = build_cluster(START, days=shape.days, step_seconds=shape.step_seconds, size=shape.size())
    ensure_history(cluster, work)
    mappings, report = work / "teams.yaml", work / "portal-report.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    report.write_text(yaml.safe_dump(REPORT))
    period = f"{START:%Y-%m}"
    with throwaway_postgres() as server:
        database = fresh_database(server)
        with LocalPrometheus(work / "tsdb") as prometheus:
            began = time.perf_counter()
            filled = subprocess.run(
                [sys.executable, "-m", "kubecharge", "report", "--prometheus", prometheus.url, "--mappings",
                 str(mappings), "--report", str(report), "--period", period, "--db", database, "--cluster", "bench",
                 "--out", str(work / "out-portal"), "--force"], capture_output=True, text=True, check=False,
            )  # fmt: skip
            if filled.returncode != 0:
                raise SystemExit(filled.stdout + filled.stderr)
            fill_seconds = time.perf_counter() - began
        with running_emulator(ReviewingEmulator) as (emulator, api):
            reviewing: Any = emulator
            reviewing.tokens[TOKEN] = ("finance", ("finance",))
            reviewing.rules.add(("group:finance", None))
            kube = Kube(api, emulator)
            for mapping in cluster.team_mappings:
                kube.apply_mapping(mapping)
            kube.apply_report("finops", REPORT)
            return {"pods": len(cluster.pods),
                    "ledger_fill_seconds": round(fill_seconds, 1), **_measure(api, database, period)}  # fmt: skip


def _measure(api: str, database: str, period: str) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KUBECHARGE_KUBE_API_URL": api, "KUBECHARGE_CLUSTER_NAME": "bench"}
    command = [
        sys.executable,
        "-m",
        "kubecharge",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        database,
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        session = requests.Session()
        costs = f"{url}/api/v1/costs?period={period}&aggregate=team"
        cold, status = _timed(session, costs)
        assert status == 200, status
        teams = session.get(costs, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60).json()["rows"]
        team = max((row for row in teams if row["team"] != "unallocated"), key=lambda row: row["cost_total_allocated"])[
            "team"
        ]
        team_page = f"{url}/periods/{period}/teams/{team}"
        routes = [costs, team_page, f"{url}/periods/{period}", f"{url}/periods/{period}/downloads/chargeback.csv"]
        for route in routes:  # warm: each route once
            assert _timed(session, route)[1] == 200, route
        api_times = [_timed(session, costs)[0] for _ in range(SEQUENTIAL)]
        page_times = [_timed(session, team_page)[0] for _ in range(SEQUENTIAL)]
        return {"cold_costs_seconds": round(cold, 2), "team": team,
                "costs_team_p50_ms": round(1000 * statistics.median(api_times), 1),
                "costs_team_p95_ms": round(1000 * _percentile(api_times, 0.95), 1),
                "team_page_p50_ms": round(1000 * statistics.median(page_times), 1),
                "team_page_p95_ms": round(1000 * _percentile(page_times, 0.95), 1),
                **_load(routes)}  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


def _load(routes: list[str]) -> dict[str, Any]:
    """`CLIENTS` clients, each asking the routes in turn for `LOAD_SECONDS`."""
    deadline = time.monotonic() + LOAD_SECONDS
    times: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        session = requests.Session()
        turn = index
        while time.monotonic() < deadline:
            elapsed, status = _timed(session, routes[turn % len(routes)])
            turn += 1
            with lock:
                times.append(elapsed)
                if status != 200:
                    errors.append(status)

    began = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return {"load_clients": CLIENTS, "load_seconds": round(time.monotonic() - began, 1), "load_requests": len(times),
            "load_errors": len(errors), "load_p50_ms": round(1000 * statistics.median(times), 1),
            "load_p95_ms": round(1000 * _percentile(times, 0.95), 1)}  # fmt: skip


if __name__ == "__main__":
    month_main(run, __doc__)
