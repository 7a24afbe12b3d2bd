"""A throwaway local Prometheus holding a synthetic cluster's history: for the demo, tests and benchmarks.

History goes in through `promtool tsdb create-blocks-from openmetrics`, window by window, then a private
Prometheus serves it on 127.0.0.1 with no scrape targets and a long retention (backfilled blocks are old and
would otherwise be deleted at start).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from kubecharge.synthetic.model import Cluster
from kubecharge.synthetic.openmetrics import windows, write_window


class PrometheusMissing(RuntimeError):
    """The prometheus / promtool binaries are not installed."""


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PrometheusMissing(
            f"{name} is not installed; install Prometheus (Debian: apt-get install prometheus) and retry"
        )
    return path


def backfill(
    cluster: Cluster,
    tsdb_dir: Path,
    scratch_dir: Path,
    hours_per_window: int = 24,
    on_window: Callable[[int, int], None] | None = None,
    resume: bool = False,
    workers: int | None = None,
) -> None:
    """Write the cluster's series into TSDB blocks under `tsdb_dir`, one window at a time. With `resume`, each
    finished window leaves a marker in `scratch_dir` and a later call skips it (a month of a large cluster takes
    long enough to be done in parts).

    promtool turns one window into blocks while the next window's text is written (and, with `workers` > 1, several
    promtools run at once): writing is Python on one core, promtool its own process, so a two-core machine does
    both at once. At most `workers` + 1 windows' text exist on disk at a time."""
    promtool = binary("promtool")
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    all_windows = list(windows(cluster, hours_per_window))
    count = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
    done = 0

    def convert(window: tuple[int, int], text: Path) -> None:
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
             f"--max-block-duration={max(2, hours_per_window)}h", str(text), str(tsdb_dir)],
            check=True, capture_output=True,
        )  # fmt: skip
        text.unlink()
        if resume:
            (scratch_dir / f"done-{window[0]}").touch()

    def finished(future: Future[None]) -> None:
        nonlocal done
        future.result()  # a failed promtool stops the backfill here
        done += 1
        if on_window is not None:
            on_window(done, len(all_windows))

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="promtool") as pool:
        running: list[Future[None]] = []
        for window in all_windows:
            if resume and (scratch_dir / f"done-{window[0]}").exists():
                done += 1
                continue
            text = scratch_dir / f"window-{window[0]}.om"
            write_window(cluster, window, text)
            running.append(pool.submit(convert, window, text))
            while len(running) >= count:  # bound the text waiting on disk
                finished(running.pop(0))
        for future in running:
            finished(future)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrometheus:
    """`with LocalPrometheus(tsdb) as prom: prom.url` — a private Prometheus over an existing TSDB."""

    def __init__(self, tsdb_dir: Path, port: int | None = None, log_path: Path | None = None) -> None:
        self.tsdb_dir = tsdb_dir
        self.port = port or free_port()
        self.log_path = log_path or tsdb_dir.parent / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_seconds: float = 60.0) -> None:
        config = self.tsdb_dir.parent / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tsdb_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=100y",  # query limits stay at their defaults, as in production
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready in {timeout_seconds:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LocalPrometheus:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
