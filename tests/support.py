"""Helpers for tests: run the CLI as a user would, read its CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from kubecharge.cli import app


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
            if key.startswith(("cpu_", "memory_", "storage_", "network_", "cost_")):
                team[key] = team.get(key, 0.0) + float(value)
    return teams
