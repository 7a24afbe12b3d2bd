"""dcgm-exporter is found by its metric, not trusted to a job name: installed with its own Helm chart its job is
`dcgm-exporter`, not the GPU operator's `nvidia-dcgm-exporter` (the default), and GPU utilisation was reported as
0 GPU-hours used, silently. Now it is read from the job that has it (and said), and where no job has the metric the
use is unknown in every view — never 0 — with the setting to change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml

from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import Cluster, Size, Truth, build_cluster, truth
from tests.conftest import START

HOURS = 6
END = START + timedelta(hours=HOURS)
SIZE = Size(pods_per_namespace=0, nodes=1, gpu_nodes=1, autoscaled_node=False, short_lived=False,
            dcgm_job="dcgm-exporter")  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Truth, str, Path]]:
    cluster = build_cluster(START, days=HOURS / 24, step_seconds=60, size=SIZE)
    work = tmp_path_factory.mktemp("gpu-exporter")
    backfill(cluster, work / "tsdb", work / "scratch", hours_per_window=HOURS)
    (work / "teams.yaml").write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
    with LocalPrometheus(work / "tsdb") as server:
        yield cluster, truth(cluster), server.url, work


def run(url: str, work: Path, name: str, **environment: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = work / name
    command = [sys.executable, "-m", "kubecharge", "report", "--prometheus", url, "--mappings",
               str(work / "teams.yaml"), "--period", f"{START:%Y-%m-%dT%H:%MZ}/{END:%Y-%m-%dT%H:%MZ}", "--out",
               str(out), "--db", f"sqlite:///{work / name}.db", "--cluster", "synthetic"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, **environment})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result, out


def test_the_configured_job_alone_would_find_nothing(served: tuple[Cluster, Truth, str, Path]) -> None:
    _, _, url, _ = served
    wanted: dict[str, str | float] = {"match[]": 'DCGM_FI_DEV_GPU_UTIL{job="nvidia-dcgm-exporter"}',
                                      "start": START.timestamp(), "end": END.timestamp()}  # fmt: skip
    answer = requests.get(f"{url}/api/v1/series", params=wanted, timeout=30).json()
    assert answer["data"] == []


def test_utilisation_is_read_from_the_job_that_exports_it_and_said(served: tuple[Cluster, Truth, str, Path]) -> None:
    _, cluster_truth, url, work = served
    result, out = run(url, work, "found")
    warning = " ".join(result.stderr.split())
    assert (
        "GPU utilisation (DCGM_FI_DEV_GPU_UTIL) is exported under job 'dcgm-exporter', not 'nvidia-dcgm-exporter'"
        in (warning)
    )
    assert "KUBECHARGE_QUERY_GPU_JOB_LABELS" in warning
    summary = json.loads((out / "chargeback.json").read_text())
    assert summary["unmeasured"] == {}
    expected = cluster_truth.by_namespace(START, END)["ml-training"]
    (line,) = [line for line in summary["lines"] if line["namespace"] == "ml-training"]
    assert expected["gpu_hours_usage"] > 0
    assert line["gpuHoursUsage"] == pytest.approx(expected["gpu_hours_usage"], rel=0.01)
    assert line["gpuHoursRequest"] == pytest.approx(expected["gpu_hours_request"], rel=0.01)
    used = f"GPU {line['gpuHoursUsage']:,.1f} of {line['gpuHoursRequest']:,.1f} GPU-h"
    assert used in " ".join(result.stdout.split())


def test_without_the_metric_the_use_is_unknown_never_zero(served: tuple[Cluster, Truth, str, Path]) -> None:
    _, cluster_truth, url, work = served
    result, out = run(url, work, "unknown", KUBECHARGE_QUERY_GPU_UTILIZATION_METRIC="DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    why = "GPU utilisation is unknown: no DCGM_FI_PROF_GR_ENGINE_ACTIVE series in the period"
    assert why in " ".join(result.stderr.split())
    assert "KUBECHARGE_QUERY_GPU_JOB_LABELS" in result.stderr
    summary = json.loads((out / "chargeback.json").read_text())
    assert why in summary["unmeasured"]["gpu"]
    (line,) = [line for line in summary["lines"] if line["namespace"] == "ml-training"]
    assert line["gpuHoursUsage"] is None
    expected = cluster_truth.by_namespace(START, END)["ml-training"]
    assert line["gpuHoursRequest"] == pytest.approx(expected["gpu_hours_request"], rel=0.01)  # still charged
    assert f"GPU unknown of {line['gpuHoursRequest']:,.1f} GPU-h" in " ".join(result.stdout.split())
    html = (out / "report.html").read_text()
    assert "unknown / " in html
    assert why in html
    assert why in (out / "report.md").read_text()
    assert why in (out / "teams" / "ml.md").read_text()
