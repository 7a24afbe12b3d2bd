"""Helpers for tests: run the CLI as a user would, read its CSV."""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

from kubecharge.cli import app
from kubecharge.domain.reports import Pricing
from kubecharge.synthetic.model import Truth

K = TypeVar("K")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a fresh process: exit code, stdout and stderr as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "kubecharge", *args], capture_output=True, text=True, timeout=600, check=False
    )


def run_in_process(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def by_team(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    teams: dict[str, dict[str, float]] = {}
    for row in rows:
        team = teams.setdefault(row["team"], {})
        for key, value in row.items():
            if key.startswith(("cpu_", "memory_", "storage_", "network_", "cost_")) and key != "cost_center":
                team[key] = team.get(key, 0.0) + float(value)
    return teams


# CSV column -> truth quantity (the default basis is max: charged = sum of per-container-hour max).
TRUTH_OF_COLUMN = {
    "cpu_core_hours_usage": "cpu_core_hours_usage",
    "cpu_core_hours_request": "cpu_core_hours_request",
    "cpu_core_hours_charged": "cpu_core_hours_max",
    "memory_gib_hours_usage": "memory_gib_hours_usage",
    "memory_gib_hours_request": "memory_gib_hours_request",
    "memory_gib_hours_charged": "memory_gib_hours_max",
    "storage_gib_hours": "storage_gib_hours",
    "network_gib": "network_gib",
}


def assert_teams_match_truth(rows: list[dict[str, str]], expected: dict[str, dict[str, float]], what: str = "") -> None:
    """Every team with anything in the truth is in the CSV rows, and every quantity within 1 % of its truth."""
    measured = by_team(rows)
    assert set(measured) == {team for team, values in expected.items() if any(values.values())}, what
    for team, values in measured.items():
        for column, quantity in TRUTH_OF_COLUMN.items():
            want = expected[team][quantity]
            assert values[column] == pytest.approx(want, rel=0.01, abs=1e-6), f"{what} {team} {column}: truth {want}"


def by_namespace(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    namespaces: dict[str, dict[str, float]] = {}
    for row in rows:
        into = namespaces.setdefault(row["namespace"], {})
        for column in TRUTH_OF_COLUMN:
            into[column] = into.get(column, 0.0) + float(row[column])
    return namespaces


def assert_namespaces_within_band(
    rows: list[dict[str, str]], band: Mapping[str, Mapping[str, tuple[float, float]]], what: str = ""
) -> int:
    """Every namespace of the rows, every quantity, within 1 % of the band its samples allow (`Truth.low`/`high`:
    the exact truth, widened only where a run starts or ends between scrapes or in an hour with failed scrapes, to
    what an exact count of the scraped samples gives). Returns how many namespaces were judged."""
    measured = by_namespace(rows)
    judged = {namespace for namespace, quantities in band.items() if any(hi for _, hi in quantities.values())}
    assert judged <= set(measured), f"{what}: namespaces missing from the report: {judged - set(measured)}"
    _assert_within_band(measured, band, TRUTH_OF_COLUMN, what)
    return len(measured)


def _assert_within_band(measured: Mapping[K, Mapping[str, float]], band: Mapping[K, Mapping[str, tuple[float, float]]],
                        columns: Mapping[str, str], what: str) -> None:  # fmt: skip
    """Each measured figure (CSV column) within 1 % of the band of its truth quantity."""
    for key, values in measured.items():
        for column, quantity in columns.items():
            low, high = band[key][quantity]
            got = values[column]
            assert low * 0.99 - 1e-6 <= got <= high * 1.01 + 1e-6, (
                f"{what} {key} {column}: {got} outside the band [{low}, {high}] ±1 %"
            )


def assert_workloads_within_band(
    rows: list[dict[str, str]], band: Mapping[tuple[str, str, str], Mapping[str, tuple[float, float]]], what: str = ""
) -> int:
    """Every workload row of `chargeback-workloads.csv` (added over the teams that had it), every quantity and GPU,
    within 1 % of the band its samples allow (`Truth.band_by_workload`); every workload of the truth with anything
    in it is there. Returns how many workloads were judged."""
    measured: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in rows:
        into = measured.setdefault((row["namespace"], row["workload_kind"], row["workload"]), {})
        for column in WORKLOAD_TRUTH_OF_COLUMN:
            into[column] = into.get(column, 0.0) + float(row[column])
    # A workload whose samples must show something; one the band allows at 0 (a run no scrape saw) may be absent.
    expected = {key for key, quantities in band.items() if any(low > 1e-9 for low, _ in quantities.values())}
    assert expected <= set(measured), f"{what}: workloads missing: {sorted(expected - set(measured))[:10]}"
    unknown = set(measured) - set(band)
    assert not unknown, f"{what}: workloads the cluster does not have: {sorted(unknown)[:10]}"
    _assert_within_band(measured, band, WORKLOAD_TRUTH_OF_COLUMN, what)
    return len(measured)


WORKLOAD_TRUTH_OF_COLUMN = {**TRUTH_OF_COLUMN, "gpu_hours_charged": "gpu_hours_request"}


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """A user error as the CLI must report it: the exit code, no traceback, one line holding every fragment."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Each truth quantity charged under the default basis (max) and its price field in `Pricing` (at the defaults).
PRICED_TRUTH = {
    "cpu_core_hours_max": "cpu_core_hour",
    "memory_gib_hours_max": "memory_gib_hour",
    "gpu_hours_request": "gpu_hour",
    "storage_gib_hours": "storage_gib_hour",
    "network_gib": "network_gib",
}


def truth_cost(quantities: Mapping[str, float]) -> float:
    """What the quantities cost at the default list prices under the default basis, worked out from the truth."""
    prices = Pricing()
    return sum(quantities.get(q, 0.0) * float(getattr(prices, field)) for q, field in PRICED_TRUTH.items())


def truth_costs_by(truth: Truth, start: datetime, end: datetime, namespace: bool = False) -> dict[str, float]:
    """Direct cost per team (or namespace) over [start, end), from the truth."""
    grouped = truth.by_namespace(start, end) if namespace else truth.by_team(start, end)
    return {key: truth_cost(values) for key, values in grouped.items()}
