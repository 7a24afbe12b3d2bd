"""A private VictoriaMetrics (Debian's `victoria-metrics`) holding a synthetic cluster's history.

The history goes in through the import API (`/api/v1/import/prometheus`, the text format with millisecond
timestamps), rendered window by window from the same model the Prometheus of the tests is backfilled from.
The server runs with its default query limits.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster
from kubecharge.synthetic.openmetrics import windows, write_window


def binary() -> str:
    path = shutil.which("victoria-metrics")
    if path is None:
        raise RuntimeError("victoria-metrics is not installed (Debian: apt-get install victoria-metrics)")
    return path


def _prometheus_text(openmetrics: Path, batch_lines: int = 200_000) -> Iterator[bytes]:
    """OpenMetrics sample lines (timestamps in seconds) as Prometheus text lines (milliseconds), in batches."""
    batch: list[str] = []
    with openmetrics.open() as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, stamp = line.rstrip("\n").rpartition(" ")
            batch.append(f"{head} {round(float(stamp) * 1000)}\n")
            if len(batch) >= batch_lines:
                yield "".join(batch).encode()
                batch = []
    if batch:
        yield "".join(batch).encode()


class LocalVictoriaMetrics:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_seconds: float = 60.0) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        log = (self.work / "victoria-metrics.log").open("ab")
        self.process = subprocess.Popen(
            [binary(), f"-storageDataPath={self.work / 'data'}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited with {self.process.returncode}; see {self.work}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("victoria-metrics did not become ready")

    def load(self, cluster: Cluster, hours_per_window: int = 24) -> None:
        for window in windows(cluster, hours_per_window):
            text = self.work / f"window-{window[0]}.om"
            write_window(cluster, window, text)
            for batch in _prometheus_text(text):
                answer = requests.post(f"{self.url}/api/v1/import/prometheus", data=batch, timeout=300)
                assert answer.status_code == 204, answer.text
            text.unlink()
        requests.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
