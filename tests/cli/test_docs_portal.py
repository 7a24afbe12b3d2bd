"""The portal's page (docs/portal.md), followed: its local commands run as written (a `kubecharge report`,
`kubecharge serve`, the two `curl`s) against the session's Prometheus, and the RBAC commands grant exactly what
the portal asks the API server about (group, resource, subresource, verb, the team as the resource name)."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import requests

from kubecharge.portal import access
from kubecharge.synthetic.local_prometheus import free_port
from tests.support.reports import read_csv

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    return (ROOT / "docs" / "portal.md").read_text()


def _command(line: str) -> list[str]:
    """A documented command as a process: `kubecharge` is this interpreter's (a venv need not be on PATH)."""
    words = shlex.split(line)
    return [sys.executable, "-m", "kubecharge", *words[1:]] if words[0] == "kubecharge" else words


def _blocks(section: str) -> list[list[str]]:
    return [[line for line in block.splitlines() if line and not line.startswith("#")]
            for block in re.findall(r"```sh\n(.*?)```", section, re.S)]  # fmt: skip


def test_the_local_commands_run_as_written(prometheus_url: str, tmp_path: Path) -> None:
    local = _blocks(_section())[0]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    port = free_port()
    env = {**os.environ, "KUBECHARGE_PROMETHEUS_URL": prometheus_url}
    report, serve, *curls = (line.replace("8080", str(port)) for line in local)
    done = subprocess.run(_command(report), cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    server = subprocess.Popen(_command(serve), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        for _ in range(300):
            assert server.poll() is None
            try:
                if requests.get(f"http://localhost:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        periods, costs = (json.loads(subprocess.run(_command(curl), capture_output=True, text=True,
                                                    check=True).stdout) for curl in curls)  # fmt: skip
    finally:
        server.terminate()
        log = server.communicate(timeout=30)[0].decode()
    assert "EVERY VISITOR SEES EVERY TEAM'S COSTS" in log  # --auth none says so loudly
    assert periods["report"] == "finops/monthly-chargeback"
    assert "2026-10" in [period["name"] for period in periods["periods"]]
    rows = read_csv(tmp_path / "out" / "chargeback.csv")  # the report the first command wrote: the same ledger
    by_team: dict[str, float] = {}
    for row in rows:
        by_team[row["team"]] = by_team.get(row["team"], 0.0) + float(row["cost_total_allocated"])
    assert {row["team"]: row["cost_total_allocated"] for row in costs["rows"]}.keys() == by_team.keys()
    for row in costs["rows"]:
        assert math.isclose(row["cost_total_allocated"], by_team[row["team"]], rel_tol=1e-9, abs_tol=1e-9)


def test_the_rbac_commands_grant_what_the_portal_asks() -> None:
    (role, binding) = next(block for block in _blocks(_section()) if block[0].startswith("kubectl create clusterrole"))
    role_args, binding_args = shlex.split(role), shlex.split(binding)

    def flag(args: list[str], name: str) -> str:
        return next(arg.split("=", 1)[1] for arg in args if arg.startswith(f"--{name}="))

    resource, subresource = flag(role_args, "resource").split("/")
    assert resource == f"{access.RESOURCE}.{access.GROUP}"
    assert subresource == access.SUBRESOURCE
    assert flag(role_args, "verb") == access.VERB
    assert flag(role_args, "resource-name") == "payments"  # the team, as TeamMappings' spec.team says it
    assert flag(binding_args, "clusterrole") == role_args[3]
