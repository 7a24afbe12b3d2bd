"""Finance exports against moto's S3 server over real HTTP and against file://: layout, checksums, verify,
immutable finals, restatements with drift, FOCUS 1.2 validity, Parquet = CSV, reconciliation."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from kubecharge.errors import ImmutableObjectError
from kubecharge.publish.exports import versions
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.synthetic.local_prometheus import LocalPrometheus, backfill
from kubecharge.synthetic.model import build_cluster
from tests.conftest import PERIOD
from tests.support.focus_validation import validate
from tests.support.reports import run_cli, run_in_process

PERIOD_NAME = "2026-10-01_2026-10-03"
BASE = f"default/chargeback/{PERIOD_NAME}"
FILES = ["chargeback-daily.csv", "chargeback-workloads-daily.csv", "chargeback-workloads.csv", "chargeback.csv",
         "chargeback.json", "focus.csv", "focus.parquet", "manifest.json", "recommendations.csv", "report.html",
         "report.md"]  # fmt: skip


def publish(prometheus_url: str, mappings: Path, tmp: Path, target: str, period: str = PERIOD,
            report: Path | None = None, *options: str) -> str:  # fmt: skip
    extra = [*(["--report", str(report)] if report else []), *options]
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", period,
        "--out", str(tmp / f"out-{len(list(tmp.iterdir()))}"), "--db", f"sqlite:///{tmp / 'k.db'}",
        "--cluster", "synthetic", "--publish", target, *extra,
    )  # fmt: skip
    assert code == 0, output
    return output


def target_url(kind: str, tmp: Path) -> str:
    return f"s3://finance/exports/{tmp.name}" if kind == "s3" else f"file://{tmp / 'exports'}"


@pytest.mark.parametrize("kind", ["s3", "file"])
def test_layout_manifest_verify_and_immutable_final(kind: str, aws: Any, prometheus_url: str, mappings_file: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    url = target_url(kind, tmp_path)
    output = publish(prometheus_url, mappings_file, tmp_path, url)
    assert "v1-final (new final numbers)" in output
    store = open_store(url, S3Options(endpoint_url=os.environ["KUBECHARGE_S3_ENDPOINT_URL"]))
    assert store.keys(BASE) == [f"{BASE}/v1-final/{name}" for name in FILES]

    manifest = json.loads(store.get(f"{BASE}/v1-final/manifest.json"))
    assert (manifest["state"], manifest["version"], manifest["restates"]) == ("final", "v1-final", None)
    assert manifest["period"] == {"name": PERIOD_NAME, "start": "2026-10-01T00:00:00Z", "end": "2026-10-03T00:00:00Z"}
    assert len(manifest["querySetSha256"]) == 64
    assert len(manifest["mappingsSha256"]) == 64
    for entry in manifest["files"]:
        data = store.get(f"{BASE}/v1-final/{entry['name']}")
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()

    # Reconciliation: team rows add up to the totals exactly; unallocated is a row and is stated.
    rows = list(csv.DictReader(io.StringIO(store.get(f"{BASE}/v1-final/chargeback.csv").decode())))
    assert sum(float(r["cost_total"]) for r in rows) == pytest.approx(manifest["totals"]["cost"], rel=1e-9)
    for key in ("cpu", "memory", "gpu", "storage", "network"):  # every resource of the table, GPU included
        column = sum(float(r[f"cost_{key}"]) for r in rows)
        assert manifest["totals"]["costByResource"][key] == pytest.approx(column, rel=1e-6, abs=1e-6), key
    assert manifest["totals"]["gpuHours"] == pytest.approx(sum(float(r["gpu_hours_charged"]) for r in rows), rel=1e-6)
    assert manifest["totals"]["gpuHours"] > 0
    unallocated = [r for r in rows if r["team"] == "unallocated"]
    assert unallocated
    assert sum(float(r["cost_total"]) for r in unallocated) == pytest.approx(manifest["unallocated"]["cost"], rel=1e-9)

    version_url = f"{url}/{BASE}/v1-final"
    ok = run_cli("verify", version_url)
    assert ok.returncode == 0, ok.stderr

    # Same numbers again: nothing new is written.
    assert "already holds these numbers" in publish(prometheus_url, mappings_file, tmp_path, url)
    assert [v.name for v in versions(store, BASE)] == ["v1-final"]
    # A final object is never overwritten, whatever asks.
    with pytest.raises(ImmutableObjectError):
        store.put(f"{BASE}/v1-final/chargeback.csv", b"tampered", immutable=True)

    # Tampering behind kubecharge's back is caught by verify, naming the file.
    if kind == "s3":
        aws.put_object(Bucket="finance", Key=f"exports/{tmp_path.name}/{BASE}/v1-final/focus.csv", Body=b"x")
    else:
        path = tmp_path / "exports" / BASE / "v1-final" / "focus.csv"
        path.chmod(stat.S_IWUSR | stat.S_IRUSR)
        path.write_bytes(b"x")
    bad = run_cli("verify", version_url)
    assert bad.returncode != 0
    assert "focus.csv" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_object_lock_bucket_protects_finals(aws: Any, prometheus_url: str, mappings_file: Path, tmp_path: Path) -> None:
    url = f"s3://finance-locked/{tmp_path.name}"
    publish(prometheus_url, mappings_file, tmp_path, url)
    key = f"{tmp_path.name}/{BASE}/v1-final/chargeback.csv"
    head = aws.head_object(Bucket="finance-locked", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=365)
    with pytest.raises(aws.exceptions.ClientError):
        aws.delete_object(Bucket="finance-locked", Key=key, VersionId=head["VersionId"])


def test_provisional_versions_only_when_numbers_change(aws: Any, prometheus_url: str, mappings_file: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    report = tmp_path / "report.yaml"
    report.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: chargeback}\n"
                      "spec: {finalizeAfter: 1000000h, outputs: {objectStorage: {url: 's3://finance/x', "
                      "formats: [csv, focus]}}}\n")  # fmt: skip
    url = target_url("s3", tmp_path)
    assert "v1-provisional" in publish(prometheus_url, mappings_file, tmp_path, url, report=report)
    assert "already holds these numbers" in publish(prometheus_url, mappings_file, tmp_path, url, report=report)
    store = open_store(url, S3Options(endpoint_url=os.environ["KUBECHARGE_S3_ENDPOINT_URL"]))
    names = sorted(key.rsplit("/", 1)[1] for key in store.keys(BASE))
    assert names == ["chargeback.csv", "chargeback.json", "focus.csv", "manifest.json"]  # the formats asked for


def test_focus_exports_pass_the_focus_validator_and_parquet_equals_csv(prometheus_url: str, mappings_file: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    url = target_url("file", tmp_path)
    publish(prometheus_url, mappings_file, tmp_path, url)
    folder = tmp_path / "exports" / BASE / "v1-final"
    for name in ("focus.csv", "focus.parquet"):
        verdict = validate(folder / name, tmp_path)
        assert verdict.tests > 500, "the validator ran no rules"
        assert verdict.problems == [], f"{name}: {verdict.problems}"

    from_csv = pd.read_csv(folder / "focus.csv", keep_default_na=False, dtype=str)
    from_parquet = pd.read_parquet(folder / "focus.parquet")
    assert list(from_parquet.columns) == list(from_csv.columns)
    assert len(from_csv) == len(from_parquet) > 0
    for column in from_csv.columns:
        parquet_values = from_parquet[column]
        if pd.api.types.is_float_dtype(parquet_values):
            assert [float(v) for v in from_csv[column]] == parquet_values.tolist(), column
        elif pd.api.types.is_datetime64_any_dtype(parquet_values):
            assert list(from_csv[column]) == [v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in parquet_values], column
        else:
            assert list(from_csv[column]) == ["" if pd.isna(v) else v for v in parquet_values], column
    chargeback = pd.read_csv(folder / "chargeback.csv")
    assert from_parquet["BilledCost"].sum() == pytest.approx(chargeback["cost_total"].sum(), rel=1e-9)


def _late_samples(path: Path, namespace: str, start: datetime, hours: int, cores: float) -> float:
    """A pod whose samples arrived after the period was finalized; returns its core-hours."""
    uid = "0b7c2a5e-1f3d-4c8e-9a6b-2d4e6f8a0c1e"
    labels = (f'container="late-job",id="/kubepods/burstable/pod{uid}/{"ab" * 32}",image="late:1",name="k8s_late",'
              f'namespace="{namespace}",pod="late-0",job="kubelet",instance="10.0.0.10:10250",'
              f'metrics_path="/metrics/cadvisor"')  # fmt: skip
    t0 = int(start.timestamp())
    lines = [
        f"container_cpu_usage_seconds_total{{{labels}}} {cores * 60 * i} {t0 + 60 * i}" for i in range(hours * 60 + 1)
    ]
    path.write_text("\n".join(lines) + "\n# EOF\n")
    return cores * hours


def test_late_data_after_finalization_is_a_restatement_with_its_drift(tmp_path: Path) -> None:
    start = datetime(2026, 10, 5, tzinfo=UTC)
    cluster = build_cluster(start, days=1, step_seconds=60, seed=11)
    tsdb = tmp_path / "tsdb"
    backfill(cluster, tsdb, tmp_path / "scratch")
    mappings = tmp_path / "teams.yaml"
    mappings.write_text(yaml.safe_dump_all(cluster.team_mappings))
    url = f"file://{tmp_path / 'exports'}"
    base = "default/chargeback/2026-10-05"
    runs = tmp_path / "runs"
    runs.mkdir()
    with LocalPrometheus(tsdb) as prometheus:
        publish(prometheus.url, mappings, runs, url, "2026-10-05", None, "--source", "prometheus")
    store = open_store(url)
    original = {key: store.get(key) for key in store.keys(f"{base}/v1-final")}

    late = _late_samples(tmp_path / "late.om", "payments-api", start + timedelta(hours=3), hours=6, cores=2.0)
    backfill_late = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(tmp_path / "late.om"), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert backfill_late.returncode == 0, backfill_late.stderr
    with LocalPrometheus(tsdb) as prometheus:  # a restart loads the late block
        # The ledger already holds the day: without --recollect nothing is asked again and nothing changes.
        assert "Nothing new to publish" in publish(prometheus.url, mappings, runs, url, "2026-10-05", None,
                                                   "--source", "prometheus")  # fmt: skip
        output = publish(prometheus.url, mappings, runs, url, "2026-10-05", None, "--source", "prometheus",
                         "--recollect")  # fmt: skip
    assert "v2-final (restates v1-final)" in output

    assert {key: store.get(key) for key in store.keys(f"{base}/v1-final")} == original  # the old final is intact
    manifest = json.loads(store.get(f"{base}/v2-final/manifest.json"))
    assert manifest["restates"] == "v1-final"
    # Each version's report says which version it is, and a restatement what it restates.
    first_html = store.get(f"{base}/v1-final/report.html").decode()
    assert '<span class="state state-final" id="state">v1-final</span>' in first_html
    assert "restates" not in first_html
    second_html = store.get(f"{base}/v2-final/report.html").decode()
    assert '<span class="state state-final" id="state">v2-final</span>' in second_html
    assert "restates v1-final (late data changed the numbers" in second_html
    assert "State: **v2-final** (restates v1-final)" in store.get(f"{base}/v2-final/report.md").decode()
    assert set(manifest["drift"]["teams"]) == {"payments"}
    payments = manifest["drift"]["teams"]["payments"]["delta"]
    # The late pod has no requests, so every late core-hour is charged.
    assert payments["cpuCoreHoursCharged"] == pytest.approx(late, rel=0.01)
    assert manifest["drift"]["total"]["delta"] == pytest.approx(payments["cost"], rel=1e-9)
    assert manifest["drift"]["total"]["delta"] == pytest.approx(late * 0.031611, rel=0.01)
    assert run_cli("verify", f"{url}/{base}/v1-final").returncode == 0
    assert run_cli("verify", f"{url}/{base}/v2-final").returncode == 0


def test_a_final_written_between_check_and_write_is_still_refused(aws: Any, tmp_path: Path) -> None:
    """The existence check and the write race; S3's conditional write (If-None-Match) closes the gap."""
    store = open_store(
        f"s3://finance/race/{tmp_path.name}", S3Options(endpoint_url=os.environ["KUBECHARGE_S3_ENDPOINT_URL"])
    )
    store.put("v1-final/chargeback.csv", b"first", immutable=True)
    store.exists = lambda key: False  # type: ignore[method-assign]  # another writer got in after our check
    with pytest.raises(ImmutableObjectError):
        store.put("v1-final/chargeback.csv", b"second", immutable=True)
    assert store.get("v1-final/chargeback.csv") == b"first"
