"""Faults and hostile input leave nothing behind: the documented exit code, one line, no partial output, the
database exactly as it was, and a clean rerun byte-identical to the run before the fault.

Every case starts from the same good run (its database copied per test), so "unchanged" is checked against a
ledger that holds real hours, and the rerun is checked against files written before any fault.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubecharge.synthetic.model import Truth
from tests.support.proxy import FaultyProxy, Handler, Intercept, forward, relay
from tests.support.reports import assert_one_line_failure, assert_teams_match_truth, read_csv, run_cli

PERIOD = "2026-10-01/2026-10-02"
REPORT = """apiVersion: kubecharge.io/v1alpha1
kind: UsageReport
metadata: {{name: {name}, namespace: finance}}
spec:
  pricing: {{currency: EUR, cpuCoreHour: {cpu}, memoryGiBHour: 0.004}}
"""


@dataclass(frozen=True)
class Baseline:
    db: Path
    files: dict[str, bytes]
    report: Path


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file of a report folder; the HTML's one line of generation time masked (everything else, the
    numbers first, must be byte-identical on a rerun)."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    files["report.html"] = re.sub(
        rb"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", b"Generated (time)", files["report.html"]
    )
    return files


def dump(db: Path, *, read_only: bool = False) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in order: what 'the database unchanged' is compared on (`read_only`: a file on a
    read-only mount, where SQLite cannot even create its WAL index)."""
    where = f"file:{db}?mode=ro&immutable=1" if read_only else str(db)
    with contextlib.closing(sqlite3.connect(where, uri=read_only)) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}


def report_args(prometheus_url: str, mappings: Path, out: Path, db: Path, *extra: str) -> list[str]:
    return ["report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", PERIOD,
            "--out", str(out), "--db", f"sqlite:///{db}", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def baseline(prometheus_url: str, mappings_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    work = tmp_path_factory.mktemp("faults")
    report = work / "report.yaml"
    report.write_text(REPORT.format(name="monthly", cpu="0.03"))
    result = run_cli(*report_args(prometheus_url, mappings_file, work / "out", work / "k.db", "--report", str(report)))
    assert result.returncode == 0, result.stderr
    return Baseline(work / "k.db", files_in(work / "out"), report)


@pytest.fixture
def db(baseline: Baseline, tmp_path: Path) -> Path:
    copy = tmp_path / "k.db"
    shutil.copy(baseline.db, copy)
    return copy


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder this process really cannot write: a read-only mount for root (who ignores modes), else 0555."""
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
    else:
        path.chmod(0o555)
    try:
        with pytest.raises(OSError, match=r"Read-only file system|Permission denied"):  # a real fault, or no test
            (path / "probe").write_bytes(b"x")
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(path)], check=True)
        else:
            path.chmod(0o755)


def assert_rerun_identical(prometheus_url: str, mappings: Path, baseline: Baseline, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rerun"
    result = run_cli(*report_args(prometheus_url, mappings, out, db, "--report", str(baseline.report)))
    assert result.returncode == 0, result.stderr
    assert files_in(out) == baseline.files


@pytest.mark.parametrize(
    ("price", "shown"), [("1.0e+400", "inf is not a finite number"), (".nan", "nan is not a finite number")]
)
def test_prices_that_are_not_finite_numbers_are_refused(
    prometheus_url: str, mappings_file: Path, baseline: Baseline, db: Path, tmp_path: Path, price: str, shown: str
) -> None:
    report = tmp_path / "report.yaml"
    report.write_text(REPORT.format(name="monthly", cpu=price))
    before = dump(db)
    out = tmp_path / "out"
    result = run_cli(*report_args(prometheus_url, mappings_file, out, db, "--report", str(report)))
    assert_one_line_failure(result, 2, "spec.pricing.cpuCoreHour", shown)
    assert not out.exists()
    assert dump(db) == before
    assert_rerun_identical(prometheus_url, mappings_file, baseline, db, tmp_path)


def test_a_yaml_bomb_is_refused_without_expanding_it(prometheus_url: str, db: Path, tmp_path: Path) -> None:
    lines = ["a0: &a0 [owner@example.com]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]  # 9 levels of 9: 387M values
    bomb = tmp_path / "teams.yaml"
    bomb.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: bomb}\nx-anchors:\n"
                    + "".join(f"  {line}\n" for line in lines) + "spec: {team: bomb, owners: *a9}\n")  # fmt: skip
    before = dump(db)
    out = tmp_path / "out"
    result = run_cli(*report_args(prometheus_url, bomb, out, db))
    assert_one_line_failure(result, 2, "teams.yaml", "expands to more than 100,000 values")
    assert not out.exists()
    assert dump(db) == before


def test_a_50_mb_manifest_is_refused_unread(prometheus_url: str, db: Path, tmp_path: Path) -> None:
    huge = tmp_path / "teams.yaml"
    with huge.open("w") as handle:
        handle.write("apiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\nmetadata: {name: huge}\n")
        handle.write("spec:\n  team: huge\n  namespaces:\n")
        handle.writelines(f"    - ns-{index:08d}\n" for index in range(50 * 1024 * 1024 // 18))
    assert huge.stat().st_size > 50 * 1000 * 1000
    before = dump(db)
    result = run_cli(*report_args(prometheus_url, huge, tmp_path / "out", db))
    assert_one_line_failure(result, 2, "teams.yaml", "bytes is more than a manifest can be")
    assert dump(db) == before


def test_a_twenty_year_period_is_refused_before_any_query(prometheus_url: str, mappings_file: Path, db: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    before = dump(db)
    args = report_args(prometheus_url, mappings_file, tmp_path / "out", db)
    args[args.index(PERIOD)] = "2010-01-01/2030-01-01"
    assert_one_line_failure(run_cli(*args), 2, "spans 7,305 days", "at most 366 days")
    assert dump(db) == before


def test_a_report_name_that_leaves_its_prefix_is_refused_before_any_write(
    prometheus_url: str, mappings_file: Path, baseline: Baseline, db: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.yaml"
    report.write_text(REPORT.format(name='"../../etc"', cpu="0.03"))
    exports = tmp_path / "exports"
    before = dump(db)
    out = tmp_path / "out"
    args = report_args(
        prometheus_url, mappings_file, out, db, "--report", str(report), "--publish", f"file://{exports}"
    )
    assert_one_line_failure(run_cli(*args), 2, "metadata.name '../../etc' is not a DNS label")
    assert dump(db) == before  # the hours were not even re-checked
    assert not out.exists()
    assert not exports.exists()
    assert not (tmp_path.parent / "etc").exists()
    assert_rerun_identical(prometheus_url, mappings_file, baseline, db, tmp_path)


@pytest.mark.parametrize("target", ["--out", "--publish"])
def test_an_unwritable_target_folder_is_refused_before_any_write(
    prometheus_url: str, mappings_file: Path, baseline: Baseline, db: Path, tmp_path: Path, target: str
) -> None:
    before = dump(db)
    with read_only_folder(tmp_path / "locked") as locked:
        out = locked / "report" if target == "--out" else tmp_path / "out"
        publish = ["--publish", f"file://{locked}/finance"] if target == "--publish" else []
        args = report_args(prometheus_url, mappings_file, out, db, "--report", str(baseline.report), *publish)
        said = {"--out": f"--out {out}: this process cannot write in {locked}",
                "--publish": f"file://{locked}/finance: {locked} is not a folder this process can write"}  # fmt: skip
        assert_one_line_failure(run_cli(*args), 2, said[target])
        assert not out.exists()
        assert list(locked.iterdir()) == []
    assert dump(db) == before
    assert_rerun_identical(prometheus_url, mappings_file, baseline, db, tmp_path)


def test_a_period_whose_first_day_has_no_data_is_charged_from_the_days_that_have(
    prometheus_url: str, mappings_file: Path, cluster_truth: Truth, tmp_path: Path
) -> None:
    """The history starts on 2026-10-01: the first day-chunk of this period is empty, and says so."""
    out = tmp_path / "out"
    args = report_args(prometheus_url, mappings_file, out, tmp_path / "k.db")
    args[args.index(PERIOD)] = "2026-09-30/2026-10-02"
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "Completeness: data for 24 of 48 hours; no data 2026-09-30T00:00Z–2026-09-30T23:00Z" in result.stdout
    truth = cluster_truth.by_team(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    assert_teams_match_truth(read_csv(out / "chargeback.csv"), truth, "first day empty")


def reset(handler: Handler, _: int) -> bool:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)  # the connection dies with no answer at all
    return True


def truncated(handler: Handler, _: int) -> bool:
    relay(handler, *forward(handler, handler.server.upstream), send_bytes=40)  # type: ignore[attr-defined]
    return True


def slow(handler: Handler, _: int) -> bool:
    time.sleep(4)  # past KUBECHARGE_PROMETHEUS_TIMEOUT_SECONDS=1, on every try
    return reset(handler, 0)


def dies_after_twelve(handler: Handler, seen: int) -> bool:
    return seen >= 12 and reset(handler, seen)  # answers the first chunks, then is gone


@pytest.mark.parametrize("fault", [reset, truncated, slow, dies_after_twelve], ids=lambda f: f.__name__)
def test_a_prometheus_that_fails_mid_answer_leaves_every_hour_as_it_was(
    prometheus_url: str, mappings_file: Path, baseline: Baseline, db: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, fault: Intercept,
) -> None:  # fmt: skip
    """Recollecting the period in 6-hour chunks, four at a time: whatever had arrived is the same hours again."""
    proxy = FaultyProxy(prometheus_url, fault)
    proxy.server.upstream = prometheus_url  # type: ignore[attr-defined]
    monkeypatch.setenv("KUBECHARGE_QUERY_CHUNK_HOURS", "6")
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_RETRIES", "1")
    before = dump(db)
    out = tmp_path / "out"
    try:
        args = report_args(proxy.url, mappings_file, out, db, "--report", str(baseline.report), "--recollect",
                           "--source", prometheus_url)  # fmt: skip
        assert_one_line_failure(run_cli(*args), 3, f"Prometheus at {proxy.url}")
    finally:
        proxy.close()
    assert not out.exists()
    after = dump(db)
    assert after["hourly_usage"] == before["hourly_usage"]  # every rollup as it was, to the bit
    collected = [(row[:3], row[4:]) for row in before["ledger_hours"]]  # all but collected_at (column 4)
    assert [(row[:3], row[4:]) for row in after["ledger_hours"]] == collected
    with contextlib.closing(sqlite3.connect(db)) as connection:  # the run is in the audit trail, as failed
        assert connection.execute("SELECT result FROM report_runs ORDER BY id DESC LIMIT 1").fetchone() == ("failed",)
    assert_rerun_identical(prometheus_url, mappings_file, baseline, db, tmp_path)


def test_a_read_only_database_is_one_line_and_nothing_written(
    prometheus_url: str, mappings_file: Path, baseline: Baseline, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    shutil.copy(baseline.db, folder / "k.db")
    before = dump(folder / "k.db")
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        (folder / "k.db").chmod(0o444)
    out = tmp_path / "out"
    try:
        args = report_args(prometheus_url, mappings_file, out, folder / "k.db", "--report", str(baseline.report))
        assert_one_line_failure(run_cli(*args), 4, "k.db", "unable to open database file")
        assert not out.exists()
        assert dump(folder / "k.db", read_only=True) == before
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)
