"""Prometheus over a copy of the synthetic history, optionally with its oldest blocks deleted: what a Prometheus
whose retention has passed looks like, for the ledger's tests (CLI and operator)."""

from __future__ import annotations

import fcntl
import json
import shutil
from datetime import datetime
from pathlib import Path

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster


class History:
    """Blocks backfilled once and never served, so no running Prometheus compacts them; each server gets a copy."""

    def __init__(self, cluster: Cluster, work: Path, pristine: Path | None = None) -> None:
        """`pristine`: blocks another process of the same run already backfilled (or will, under its lock)."""
        self.work = work
        self.pristine = pristine or work / "pristine"
        if pristine is None:
            backfill(cluster, self.pristine, work / "scratch")
        self.copies = 0

    @classmethod
    def shared(cls, cluster: Cluster, work: Path, shared: Path, hours_per_window: int = 24) -> History:
        """Backfilled once per test run into `shared`, whichever pytest-xdist worker gets there first (the others
        wait on the lock, then serve copies of the same blocks): the session cluster is not generated twice."""
        shared.mkdir(parents=True, exist_ok=True)
        with (shared / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (shared / "done").exists():
                backfill(cluster, shared / "pristine", shared / "scratch", hours_per_window=hours_per_window)
                (shared / "done").touch()
        return cls(cluster, work, shared / "pristine")

    def blocks(self) -> dict[str, tuple[int, int]]:
        """Block directory → (minTime, maxTime) in milliseconds, from each block's meta.json."""
        found = {}
        for meta in self.pristine.glob("*/meta.json"):
            data = json.loads(meta.read_text())
            found[meta.parent.name] = (int(data["minTime"]), int(data["maxTime"]))
        return found

    def serve(self, *, drop: tuple[datetime, datetime] | None = None, port: int | None = None) -> LocalPrometheus:
        """A started Prometheus over a fresh copy, without the blocks that lie wholly inside `drop` [start, end)."""
        self.copies += 1
        tsdb = self.work / f"copy-{self.copies}" / "tsdb"
        tsdb.mkdir(parents=True)
        low, high = (int(moment.timestamp() * 1000) for moment in drop) if drop else (0, 0)
        kept = 0
        for name, (min_time, max_time) in self.blocks().items():
            if drop is not None and low <= min_time and max_time <= high:
                continue
            shutil.copytree(self.pristine / name, tsdb / name)
            kept += 1
        assert kept, "no block left to serve"
        server = LocalPrometheus(tsdb, port=port)
        server.start()
        return server
