"""What the benchmarks share: peak-RSS sampling and one `kubecharge report` in a child process."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

from kubecharge.collect.promql import WORKLOAD_QUESTIONS, QuerySet
from kubecharge.synthetic.local_prometheus import LocalPrometheus
from kubecharge.synthetic.model import Size

DESIGNED_NAMESPACES = 25  # namespaces the generator builds before `extra_namespaces`


class PeakRss:
    """Samples a process' RSS in a thread; `.peak_bytes` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes


def report_in_child(prometheus: LocalPrometheus, args: list[str], checkout: Path | None = None) -> dict[str, Any]:
    """Run `benchmarks.report_child` with `args`; its timings plus its and Prometheus' peak RSS (MiB). `checkout`:
    another kubecharge source tree (an earlier commit's worktree) whose code and child run instead of this one's."""
    assert prometheus.process is not None
    prometheus_rss = PeakRss(prometheus.process.pid)
    environment = None
    if checkout is not None:  # ahead of the installed (editable) kubecharge on the path
        environment = {**os.environ, "PYTHONPATH": f"{checkout / 'operator'}{os.pathsep}{checkout}"}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.report_child", *args], stdout=subprocess.PIPE,
                               text=True, env=environment, cwd=checkout)  # fmt: skip
    own_rss = PeakRss(process.pid)
    stdout, _ = process.communicate()
    own_peak, prometheus_peak = own_rss.stop(), prometheus_rss.stop()
    if process.returncode != 0:
        raise SystemExit(f"report child failed with exit {process.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["kubecharge_peak_rss_mib"] = round(own_peak / 2**20, 1)
    result["prometheus_peak_rss_mib"] = round(prometheus_peak / 2**20, 1)
    return result


PODS_PER_NODE = 50  # a realistic density (the kubelet allows 110): 1,000 pods run on 20 nodes


@dataclass(frozen=True)
class Shape:
    """The cluster a month benchmark generates: size, history and scrape step."""

    namespaces: int = 50
    pods_per_namespace: int = 20
    days: int = 30
    step_seconds: int = 300
    nodes: int | None = None  # None: one per PODS_PER_NODE pods
    short_lived: bool = False  # the `batch-hourly` runs (about 80 more pods a day)

    def size(self) -> Size:
        pods = self.namespaces * self.pods_per_namespace
        nodes = self.nodes or max(4, math.ceil(pods / PODS_PER_NODE))
        return Size(extra_namespaces=max(0, self.namespaces - DESIGNED_NAMESPACES),
                    pods_per_namespace=self.pods_per_namespace, nodes=nodes, short_lived=self.short_lived,
                    rightsizing=False)  # fmt: skip


MonthRun = Callable[[Shape, Path], dict[str, Any]]


def month_main(run: MonthRun, doc: str | None) -> None:
    """The month benchmarks' command line: the shape and `--keep DIR`; prints `run`'s figures as JSON."""
    args = month_arguments(doc).parse_args()
    with work_folder(args.keep) as work:
        print(json.dumps(run(shape_of(args), work)), flush=True)


def shape_of(args: argparse.Namespace) -> Shape:
    return Shape(args.namespaces, args.pods_per_namespace, args.days, args.step, args.nodes, args.short_lived)


def month_arguments(doc: str | None) -> argparse.ArgumentParser:
    """The shape of the generated cluster and `--keep DIR`, the options every month benchmark takes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--pods-per-namespace", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", type=int, default=300)
    parser.add_argument("--nodes", type=int, help=f"Nodes (default: one per {PODS_PER_NODE} pods, at least 4).")
    parser.add_argument("--short-lived", action="store_true", help="Add the batch-hourly runs shorter than an hour.")
    parser.add_argument("--keep", type=Path, help="Keep the generated history here (and reuse it next time).")
    return parser


LEDGER_TABLES = ("hourly_usage", "usage_keys", "namespace_hours", "node_hours", "ledger_hours", "workload_days")


def ledger_size(database: Path) -> dict[str, Any]:
    """Rows per ledger table, bytes per table with its indexes (SQLite's dbstat), and the file's size."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the file, nothing in the WAL
        present = {name for (name,) in connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        tables = [table for table in LEDGER_TABLES if table in present]  # an earlier schema (`--baseline`) has fewer
        rows = {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}
        pages = dict(connection.execute("SELECT tbl_name, SUM(pgsize) FROM dbstat JOIN sqlite_schema "
                                        "USING (name) GROUP BY tbl_name").fetchall())  # fmt: skip
    return {
        "ledger_rows": rows,
        "ledger_mb": {table: round(pages.get(table, 0) / 1e6, 2) for table in tables},
        "database_mb": round(database.stat().st_size / 1e6, 2),
    }


@contextmanager
def work_folder(keep: Path | None) -> Iterator[Path]:
    """`keep` (created if need be, and kept), else a temporary folder removed afterwards."""
    work = keep or Path(tempfile.mkdtemp(prefix="kubecharge-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def namespace_grain(queries: QuerySet) -> QuerySet:
    """The queries without those that resolve workloads (owners, mounted claims): the namespace-grain floor the
    workload grain is held to."""
    return QuerySet({question: query for question, query in queries.as_dict().items()
                     if question not in WORKLOAD_QUESTIONS})  # fmt: skip


def floor(url: str, query_sets: list[QuerySet], start: datetime, end: datetime) -> dict[str, float]:
    """The minimal correct Prometheus work: every query of each set (one set per cluster), one day per request,
    one request at a time, each answer read to the end and nothing else done with it."""
    session = requests.Session()
    began = time.perf_counter()
    samples = requests_sent = 0
    for queries in query_sets:
        day = start
        while day < end:
            chunk_end = min(day + timedelta(days=1), end)
            for query in queries.as_dict().values():
                form = {"query": query, "start": (day + timedelta(hours=1)).timestamp(),
                        "end": chunk_end.timestamp(), "step": "3600", "stats": "all"}  # fmt: skip
                answer = session.post(f"{url}/api/v1/query_range", data=form, timeout=600)
                answer.raise_for_status()
                stats = answer.json()["data"].get("stats", {}).get("samples", {})
                samples += int(stats.get("totalQueryableSamples", 0))
                requests_sent += 1
            day = chunk_end
    return {"seconds": time.perf_counter() - began, "requests": requests_sent, "samples": samples}
