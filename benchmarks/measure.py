"""What the benchmarks share: peak-RSS sampling and one `kubecharge report` in a child process."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

from kubecharge.collect.promql import QuerySet
from kubecharge.synthetic.local_prometheus import LocalPrometheus


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


def report_in_child(prometheus: LocalPrometheus, args: list[str]) -> dict[str, Any]:
    """Run `benchmarks.report_child` with `args`; its timings plus its and Prometheus' peak RSS (MiB)."""
    assert prometheus.process is not None
    prometheus_rss = PeakRss(prometheus.process.pid)
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.report_child", *args], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    own_rss = PeakRss(process.pid)
    stdout, _ = process.communicate()
    own_peak, prometheus_peak = own_rss.stop(), prometheus_rss.stop()
    if process.returncode != 0:
        raise SystemExit(f"report child failed with exit {process.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["kubecharge_peak_rss_mib"] = round(own_peak / 2**20, 1)
    result["prometheus_peak_rss_mib"] = round(prometheus_peak / 2**20, 1)
    return result


MonthRun = Callable[[int, int, int, int, Path], dict[str, Any]]


def month_main(run: MonthRun, doc: str | None) -> None:
    """The month benchmarks' command line: size, days, step and `--keep DIR`; prints `run`'s figures as JSON."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--pods-per-namespace", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="Keep the generated history here (and reuse it next time).")
    args = parser.parse_args()
    with work_folder(args.keep) as work:
        print(json.dumps(run(args.namespaces, args.pods_per_namespace, args.days, args.step, work)), flush=True)


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
