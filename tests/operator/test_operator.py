"""The real kopf operator against the Kubernetes emulator and a real Prometheus holding the synthetic cluster.

The operator's clock is set to 2026-10-02T12:00Z, inside the synthetic history: with a daily UsageReport and
`finalizeAfter: 1h`, 2026-10-01 is finalized on the first run and 2026-10-02 stays provisional.
Tests in this module share one emulator and run in order (the last one changes a TeamMapping).
"""

from __future__ import annotations

import base64
import csv as csv_module
import hashlib
import json
import math
import sqlite3
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kubecharge.domain.charges import Chargeback
from kubecharge.pipeline import job
from kubecharge.pipeline.outputs import render_all
from kubecharge.settings import Settings
from kubecharge.synthetic.local_prometheus import LocalPrometheus, free_port
from kubecharge.synthetic.model import Cluster, Truth
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, OperatorThread, TcpRelay, wait_for
from tests.support.browser import pdf_pages
from tests.support.reports import read_csv, run_cli, run_in_process

NOW = datetime(2026, 10, 2, 12, tzinfo=UTC)
REPORTS_NS = "finops"


def report_manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
            "metadata": {"name": name, "namespace": REPORTS_NS},
            "spec": {"period": "daily", "finalizeAfter": "1h", "chargeBasis": "max", **spec}}  # fmt: skip


# Claims pods by a label kube-state-metrics does not export (no pod carries it either: it claims nothing).
UNEXPORTED_LABEL_MAPPING = {
    "apiVersion": "kubecharge.io/v1alpha1", "kind": "TeamMapping", "metadata": {"name": "owned-pods"},
    "spec": {"team": "payments", "podSelector": {"matchLabels": {"cost-owner": "payments"}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def kube(cluster: Cluster) -> Iterator[Kube]:
    with running_emulator() as (emulator, url):
        kube = Kube(url, emulator)
        last = cluster.slots - 1
        for namespace in cluster.namespaces:
            kube.namespace(namespace.name, namespace.labels_at(last))
        kube.namespace(REPORTS_NS, {})
        for mapping in cluster.team_mappings:
            kube.apply_mapping(dict(mapping))
        kube.apply_mapping(UNEXPORTED_LABEL_MAPPING)
        yield kube


@pytest.fixture(scope="module")
def relay_port() -> int:
    """The port of the relay a report points at, known before the operator starts so its settings allow it."""
    return free_port()


@pytest.fixture(scope="module")
def settings(kube: Kube, prometheus_url: str, relay_port: int, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    work = tmp_path_factory.mktemp("operator")
    code, output = run_in_process("db", "upgrade", "--db", f"sqlite:///{work / 'operator.db'}")
    assert code == 0, output
    return Settings(
        kube_api_url=kube.api.configuration.host, prometheus_url=prometheus_url,
        database_url=f"sqlite:///{work / 'operator.db'}", cluster_name="synthetic",
        report_interval_seconds=3, mapping_interval_seconds=1, retry_delay_seconds=1, retry_max_delay_seconds=2,
        metrics_port=free_port(), liveness_port=free_port(), standalone=True,
        prometheus_url_allowed_prefixes=[f"http://127.0.0.1:{relay_port}/"],
    )  # fmt: skip


class Operator:
    """The running operator; `restart()` stops it and starts a new process-equivalent on the same database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.thread = OperatorThread(settings, clock=lambda: NOW).start()

    def restart(self) -> None:
        self.thread.stop()
        self.thread = OperatorThread(self.settings, clock=lambda: NOW).start()


@pytest.fixture(scope="module")
def operator(settings: Settings) -> Iterator[Operator]:
    running = Operator(settings)
    yield running
    running.thread.stop()


def runs(settings: Settings, period: str, report: str = "chargeback") -> int:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT count(*) FROM report_runs WHERE period_name = ? AND report = ?",
                              (period, f"{REPORTS_NS}/{report}")).fetchone()[0])  # fmt: skip


def cli_csv(prometheus_url: str, mappings: Path, period: str, tmp: Path) -> str:
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", period,
        "--out", str(tmp / period), "--db", f"sqlite:///{tmp / 'cli.db'}", "--cluster", "synthetic",
        "--as-of", NOW.isoformat(),
    )  # fmt: skip
    assert code == 0, output
    return (tmp / period / "chargeback.csv").read_bytes().decode()


def test_report_is_computed_published_and_finalized(
    kube: Kube,
    operator: Operator,
    settings: Settings,
    prometheus_url: str,
    mappings_file: Path,
    tmp_path: Path,
    cluster_truth: Truth,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[tuple[str, str]] = []  # (thread, CSV) of every report the one job rendered

    def recorded(chargeback: Chargeback) -> dict[str, bytes]:
        files = render_all(chargeback)
        rendered.append((threading.current_thread().name, files["chargeback.csv"].decode()))
        return files

    monkeypatch.setattr(job, "render_all", recorded)
    kube.apply_report(REPORTS_NS, report_manifest("chargeback"))
    status = wait_for(
        lambda: (
            (s := kube.report(REPORTS_NS, "chargeback").get("status") or {}).get("phase") == "Provisional"
            and "2026-10-01" in (s.get("finalizedPeriods") or [])
            and s
        ),
        what="a provisional report with 2026-10-01 finalized",
    )
    maps = kube.configmaps(REPORTS_NS, "chargeback")
    assert sorted(maps) == ["chargeback-2026-10-01", "chargeback-2026-10-02"]
    assert maps["chargeback-2026-10-01"].metadata.labels["kubecharge.io/state"] == "final"
    assert maps["chargeback-2026-10-02"].metadata.labels["kubecharge.io/state"] == "provisional"
    owner = maps["chargeback-2026-10-02"].metadata.owner_references[0]
    assert (owner.kind, owner.name) == ("UsageReport", "chargeback")

    # The ConfigMap's CSV is exactly what `kubecharge report` writes for the same period, and both were rendered
    # by the one job (`pipeline.job.produce_report`): the operator's in its worker thread, the CLI's in this one.
    here = threading.current_thread().name
    for period in ("2026-10-01", "2026-10-02"):
        data = maps[f"chargeback-{period}"].data
        by_operator = [thread for thread, csv in rendered if csv == data["chargeback.csv"]]
        assert by_operator, f"the operator's {period} CSV was not rendered by the report job"
        assert here not in by_operator
        assert data["chargeback.csv"] == cli_csv(prometheus_url, mappings_file, period, tmp_path)
        assert (here, data["chargeback.csv"]) in rendered
        assert {"summary.md", "team-payments.md", "team-unallocated.md"} <= set(data)
        output = next(o for o in status["outputs"] if o["location"] == f"{REPORTS_NS}/chargeback-{period}")
        assert output["sha256"] == hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    rows = read_csv(tmp_path / "2026-10-02" / "chargeback.csv")
    assert status["totals"]["cost"] == pytest.approx(sum(float(r["cost_total"]) for r in rows), rel=1e-9)
    assert status["totals"]["cpuCoreHours"] == pytest.approx(
        sum(float(r["cpu_core_hours_charged"]) for r in rows), rel=1e-9
    )
    # Every resource of the table in the status totals, GPU included, against the generator's truth of the hours
    # of the day reported so far.
    last = datetime.fromisoformat(status["completeness"]["lastHour"].replace("Z", "+00:00"))
    day = cluster_truth.by_team(datetime(2026, 10, 2, tzinfo=UTC), last + timedelta(hours=1))
    gpu_requested = sum(team["gpu_hours_request"] for team in day.values())
    assert gpu_requested > 0
    totals = status["totals"]
    assert totals["gpuHours"] == pytest.approx(gpu_requested, rel=0.01)
    assert totals["gpuHoursUsed"] == pytest.approx(sum(team["gpu_hours_usage"] for team in day.values()), rel=0.01)
    assert totals["costByResource"]["gpu"] == pytest.approx(totals["gpuHours"] * 0.95, rel=1e-9)
    assert totals["costByResource"]["gpu"] == pytest.approx(sum(float(r["cost_gpu"]) for r in rows), rel=1e-6)
    assert sum(totals["costByResource"].values()) == pytest.approx(totals["cost"], rel=1e-9)
    cli_summary = json.loads((tmp_path / "2026-10-02" / "chargeback.json").read_text())
    assert status["coverage"] == pytest.approx(cli_summary["coverage"], rel=1e-9)
    assert status["period"] == {"name": "2026-10-02", "start": "2026-10-02T00:00:00Z", "end": "2026-10-03T00:00:00Z"}
    assert status["lastRun"]["result"] == "Succeeded"
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["status"] == "True"
    assert status["topTeams"][0]["cost"] >= status["topTeams"][-1]["cost"]
    assert {p["name"]: p["phase"] for p in status["periods"]} == {
        "2026-10-01": "Finalized", "2026-10-02": "Provisional"
    }  # fmt: skip

    reasons = {event.reason for event in kube.events(REPORTS_NS, "chargeback")}
    assert "ReportFinished" in reasons

    # A finalized period is not re-run: the current one is, on every tick.
    wait_for(lambda: runs(settings, "2026-10-02") >= 3, what="two more timer runs")
    assert runs(settings, "2026-10-01") == 1

    with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    assert f'kubecharge_attribution_coverage_ratio{{namespace="{REPORTS_NS}",report="chargeback"}}' in metrics
    assert "kubecharge_report_last_success_timestamp_seconds" in metrics
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.liveness_port}/healthz", timeout=10) as answer:
        assert answer.status == 200


def _deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": f"registry.example.com/{name}:4.0",
                                         "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}}}  # fmt: skip


def test_recommendations_reach_status_metrics_and_the_workloads_own_annotation(
    kube: Kube, operator: Operator, settings: Settings, prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    """The saving per team in status and as a metric, equal to the CLI's for the same day; with `annotate`, each
    workload of this cluster carries its recommendation (spec untouched), and a refused patch is an Event."""
    apps: Any = kubernetes.client.AppsV1Api(kube.api)
    for name in ("steady", "diurnal"):
        apps.create_namespaced_deployment("platform-portal", _deployment(name))
    kube.apply_report(REPORTS_NS, report_manifest("rightsizing", recommendations={"windowDays": 2, "annotate": True}))
    status = wait_for(
        lambda: (s := kube.report(REPORTS_NS, "rightsizing").get("status") or {}).get("recommendedSaving") and s,
        what="the recommended saving in status",
    )
    saving = status["recommendedSaving"]
    assert (saving["windowStart"], saving["windowEnd"]) == ("2026-09-30T00:00:00Z", "2026-10-02T00:00:00Z")
    manifest = tmp_path / "rightsizing.yaml"
    manifest.write_text(json.dumps(report_manifest("rightsizing", recommendations={"windowDays": 2})))
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", "2026-10-02",
        "--report", str(manifest), "--out", str(tmp_path / "cli"), "--db", f"sqlite:///{tmp_path / 'cli.db'}",
        "--cluster", "synthetic", "--as-of", NOW.isoformat(),
    )  # fmt: skip
    assert code == 0, output
    cli = json.loads((tmp_path / "cli" / "chargeback.json").read_text())
    assert saving["teams"] == pytest.approx(cli["recommendedSaving"]["teams"], rel=1e-9)
    assert saving["teams"]["platform"] > 0  # the steady pair alone saves (a day of each replica: enough data)
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    line = f'kubecharge_recommended_saving{{namespace="{REPORTS_NS}",report="rightsizing",team="platform"}} '
    assert float(metrics.split(line)[1].split()[0]) == pytest.approx(saving["teams"]["platform"], rel=1e-9)

    steady = next(r for r in cli["recommendations"] if r["workload"] == "steady")
    written = wait_for(
        lambda: (apps.read_namespaced_deployment("steady", "platform-portal").metadata.annotations or {}).get(
            "kubecharge.io/recommendation"),
        what="the steady Deployment's recommendation annotation",
    )  # fmt: skip
    app = json.loads(written)["containers"]["app"]
    assert app["cpu"] == f"{round(steady['cpuRecommendedCores'] * 1000)}m"
    assert app["memory"] == f"{round(steady['memoryRecommendedGiB'] * 1024)}Mi"
    assert app["monthlySaving"] == pytest.approx(steady["monthlySaving"], abs=0.006)
    deployment = apps.read_namespaced_deployment("steady", "platform-portal")
    assert deployment.spec.template.spec.containers[0].resources.requests == {"cpu": "1", "memory": "1Gi"}
    # Without the RBAC to patch workloads: a warning Event naming the chart value, and the report still stands.
    kube.emulator.refuse[("deployments", "platform-portal")] = (403, "Forbidden", "deployments is forbidden")
    try:
        kube.patch_report(REPORTS_NS, "rightsizing", {"spec": {"recommendations": {"cpuPercentile": 90}}})
        event = wait_for(lambda: next((e for e in kube.events(REPORTS_NS, "rightsizing")
                                       if e.reason == "AnnotationsNotWritten"), None),
                         what="an AnnotationsNotWritten Event")  # fmt: skip
        assert "rbac.annotateWorkloads" in event.message
        assert kube.report(REPORTS_NS, "rightsizing")["status"]["lastRun"]["result"] == "Succeeded"
    finally:
        kube.emulator.refuse.clear()


def test_team_mapping_status_shows_claims_and_conflicts(kube: Kube, operator: Operator) -> None:
    search = wait_for(lambda: kube.mapping("search").get("status"), what="search mapping status")
    assert search["matchedNamespaces"] == ["search-crawler", "search-frontend", "search-indexer"]
    web = wait_for(lambda: kube.mapping("web").get("status"), what="web mapping status")
    conflicts = {c["namespace"]: c for c in web["conflicts"]}
    assert conflicts["shared-analytics"]["winner"] == "data"  # priority 10 beats web's glob
    assert conflicts["edge-gateway"]["winner"] == "platform"  # exact beats glob on a tie
    assert "shared-cdn" in web["matchedNamespaces"]
    assert "shared-analytics" not in web["matchedNamespaces"]
    reasons = {event.reason for event in kube.events("default", "web")}
    assert "MappingConflict" in reasons


def test_a_pod_selector_on_an_unexported_label_is_a_mapping_condition(kube: Kube, operator: Operator) -> None:
    """Once a report has run: `cost-owner` is on no kube_pod_labels series, `team` (web's pod rule) is."""

    def condition(name: str) -> dict[str, str] | None:
        found = [c for c in (kube.mapping(name).get("status") or {}).get("conditions") or []
                 if c["type"] == "LabelNotExported"]  # fmt: skip
        return found[0] if found else None

    unexported = wait_for(lambda: condition("owned-pods"), what="owned-pods' LabelNotExported condition")
    assert unexported["status"] == "True"
    assert "--metric-labels-allowlist=pods=[cost-owner]" in unexported["message"]
    exported = wait_for(lambda: condition("web-apps-pods"), what="web-apps-pods' LabelNotExported condition")
    assert exported["status"] == "False"
    assert "LabelNotExported" in {event.reason for event in kube.events("default", "owned-pods")}


def test_restart_leaves_one_configmap_per_period_unchanged(kube: Kube, operator: Operator, settings: Settings) -> None:
    before = {
        name: (cm.data, cm.metadata.resource_version) for name, cm in kube.configmaps(REPORTS_NS, "chargeback").items()
    }
    runs_before = runs(settings, "2026-10-02")
    operator.restart()
    wait_for(lambda: runs(settings, "2026-10-02") > runs_before + 1, what="runs after the restart")
    after = {
        name: (cm.data, cm.metadata.resource_version) for name, cm in kube.configmaps(REPORTS_NS, "chargeback").items()
    }
    assert after == before  # same names, same content, not even rewritten
    assert runs(settings, "2026-10-01") == 1


def test_prometheus_outage_fails_visibly_and_recovers(
    kube: Kube, operator: Operator, prometheus: LocalPrometheus, relay_port: int
) -> None:
    relay = TcpRelay(prometheus.port, relay_port)
    relay.up()
    kube.apply_report(REPORTS_NS, report_manifest("outage", prometheus={"url": relay.url}))
    wait_for(lambda: (kube.report(REPORTS_NS, "outage").get("status") or {}).get("phase") == "Provisional",
             what="first successful run")  # fmt: skip
    before = kube.configmaps(REPORTS_NS, "outage")["outage-2026-10-02"]

    relay.down()
    status = wait_for(lambda: (s := kube.report(REPORTS_NS, "outage").get("status") or {}).get("phase") == "Failed"
                      and s, what="phase Failed")  # fmt: skip
    assert "unreachable" in status["lastRun"]["message"]
    assert status["conditions"][0]["status"] == "False"
    assert status["conditions"][0]["reason"] == "PrometheusUnavailable"
    wait_for(lambda: any(e.reason == "ReportFailed" and "unreachable" in e.message
                         for e in kube.events(REPORTS_NS, "outage")), what="a ReportFailed event")  # fmt: skip
    during = kube.configmaps(REPORTS_NS, "outage")["outage-2026-10-02"]
    assert (during.data, during.metadata.resource_version) == (before.data, before.metadata.resource_version)

    relay.up()
    status = wait_for(lambda: (s := kube.report(REPORTS_NS, "outage").get("status") or {}).get("phase")
                      == "Provisional" and s, what="recovery after the outage")  # fmt: skip
    assert status["lastRun"]["result"] == "Succeeded"
    assert kube.configmaps(REPORTS_NS, "outage")["outage-2026-10-02"].data == before.data
    relay.down()


def s3_secret(kube: Kube, name: str, endpoint: str) -> None:
    """The report's object-storage credentials, as a platform team would create them."""
    values = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint}
    secret = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    kube.core.create_namespaced_secret(REPORTS_NS, {"metadata": {"name": name}, "data": secret})


def test_reports_are_exported_to_object_storage(
    kube: Kube, operator: Operator, s3_endpoint: str, aws: Any, tmp_path: Path
) -> None:
    s3_secret(kube, "s3-credentials", s3_endpoint)
    storage = {"url": "s3://finance/operator", "secretRef": {"name": "s3-credentials"},
               "formats": ["csv", "focus", "workloads", "html"]}  # fmt: skip
    kube.apply_report(REPORTS_NS, report_manifest("exported", outputs={"objectStorage": storage}))
    status = wait_for(
        lambda: (s := kube.report(REPORTS_NS, "exported").get("status") or {}).get("phase") == "Provisional"
        and "2026-10-01" in (s.get("finalizedPeriods") or []) and s,
        what="exported report computed",
    )  # fmt: skip
    exports = {o["period"]: o for o in status["outputs"] if o["kind"] == "ObjectStorage"}
    base = f"s3://finance/operator/{REPORTS_NS}/exported"
    assert exports["2026-10-01"]["location"] == f"{base}/2026-10-01/v1-final"
    assert exports["2026-10-02"]["location"] == f"{base}/2026-10-02/v1-provisional"
    for output in exports.values():
        manifest = aws.get_object(Bucket="finance", Key=output["location"].removeprefix("s3://finance/")
                                  + "/manifest.json")["Body"].read()  # fmt: skip
        assert hashlib.sha256(manifest).hexdigest() == output["sha256"]
        check = run_cli("verify", output["location"])
        assert check.returncode == 0, check.stderr
    # Every workload is in object storage; the ConfigMap keeps the costliest; the exported page shows each team's
    # workloads, as Chromium prints it.
    final = exports["2026-10-01"]["location"].removeprefix("s3://finance/")
    workloads = aws.get_object(Bucket="finance", Key=f"{final}/chargeback-workloads.csv")["Body"].read().decode()
    rows = list(csv_module.DictReader(workloads.splitlines()))
    assert {"Deployment", "StatefulSet", "CronJob", "PersistentVolumeClaim"} <= {row["workload_kind"] for row in rows}
    top = kube.configmaps(REPORTS_NS, "exported")["exported-2026-10-01"].data["workloads-top.csv"]
    costliest = max(rows, key=lambda row: float(row["cost_total_allocated"]))
    assert next(iter(csv_module.DictReader(top.splitlines()))) == costliest
    page = tmp_path / "report.html"
    page.write_bytes(aws.get_object(Bucket="finance", Key=f"{final}/report.html")["Body"].read())
    flat = " ".join("\n".join(pdf_pages(page, "A4", tmp_path)).split())
    assert "Workload Kind Namespace Slack (USD) Cost (USD)" in flat
    assert f"{costliest['workload']} {costliest['workload_kind']} {costliest['namespace']}" in flat


def test_a_spec_change_reruns_with_the_new_basis(kube: Kube, operator: Operator) -> None:
    kube.apply_report(REPORTS_NS, report_manifest("basis"))
    wait_for(lambda: (kube.report(REPORTS_NS, "basis").get("status") or {}).get("phase") == "Provisional",
             what="first run")  # fmt: skip
    kube.patch_report(REPORTS_NS, "basis", {"spec": {"chargeBasis": "usage"}})

    def usage_basis() -> bool:
        csv = kube.configmaps(REPORTS_NS, "basis")["basis-2026-10-02"].data["chargeback.csv"]
        rows = list(csv_module.DictReader(csv.splitlines()))
        return all(r["cpu_core_hours_charged"] == r["cpu_core_hours_usage"] for r in rows)

    wait_for(usage_basis, what="charged = usage after the spec change")
    status = wait_for(lambda: (s := kube.report(REPORTS_NS, "basis")["status"]).get("observedGeneration") == 2 and s,
                      what="observedGeneration 2")  # fmt: skip
    assert status["phase"] == "Provisional"


def test_a_suspended_report_does_nothing(kube: Kube, operator: Operator, settings: Settings) -> None:
    kube.apply_report(REPORTS_NS, report_manifest("paused", suspend=True))
    status = wait_for(lambda: kube.report(REPORTS_NS, "paused").get("status"), what="suspended status")
    assert status["conditions"][0]["reason"] == "Suspended"
    assert kube.configmaps(REPORTS_NS, "paused") == {}
    assert runs(settings, "2026-10-02", report="paused") == 0


def test_bad_resources_are_reported_and_break_nothing(kube: Kube, operator: Operator, settings: Settings) -> None:
    # The emulator does not enforce the CRD schema, so these reach the operator as they would on a lax server.
    kube.apply_report(REPORTS_NS, report_manifest("broken", period="yearly"))
    status = wait_for(lambda: kube.report(REPORTS_NS, "broken").get("status"), what="status of the broken report")
    assert status["phase"] == "Failed"
    assert status["conditions"][0]["reason"] == "InvalidSpec"
    assert "spec.period" in status["lastRun"]["message"]
    kube.apply_mapping({"apiVersion": "kubecharge.io/v1alpha1", "kind": "TeamMapping",
                        "metadata": {"name": "broken"}, "spec": {"team": "Not A Label"}})  # fmt: skip
    mapping = wait_for(lambda: kube.mapping("broken").get("status"), what="status of the broken mapping")
    assert mapping["conditions"][0]["reason"] == "InvalidSpec"
    # The healthy report keeps running, and succeeding.
    before = runs(settings, "2026-10-02")
    wait_for(lambda: runs(settings, "2026-10-02") > before, what="another run of the healthy report")
    assert kube.report(REPORTS_NS, "chargeback")["status"]["lastRun"]["result"] == "Succeeded"


def test_changing_a_mapping_reattributes_on_the_next_run(kube: Kube, operator: Operator) -> None:
    kube.patch_mapping("search", {"spec": {"team": "discovery"}})

    def current_csv() -> str:
        return str(kube.configmaps(REPORTS_NS, "chargeback")["chargeback-2026-10-02"].data["chargeback.csv"])

    wait_for(lambda: ",discovery,search-indexer," in current_csv(), what="search-* re-attributed to discovery")
    assert ",search,search-indexer," not in current_csv()
    final = kube.configmaps(REPORTS_NS, "chargeback")["chargeback-2026-10-01"].data["chargeback.csv"]
    assert ",search,search-indexer," in final  # a finalized period is never silently changed


def test_a_restatement_on_request_records_its_drift(kube: Kube, operator: Operator, aws: Any) -> None:
    # After the mapping change above, 2026-10-01 attributed today differs from its final export.
    kube.patch_report(REPORTS_NS, "exported", {"metadata": {"annotations": {"kubecharge.io/restate": "2026-10-01"}}})
    status = wait_for(lambda: (kube.report(REPORTS_NS, "exported").get("status") or {}).get("restatements"),
                      what="a restatement in status")  # fmt: skip
    (restatement,) = status
    assert (restatement["period"], restatement["version"]) == ("2026-10-01", "v2-final")
    assert restatement["costDelta"] == pytest.approx(0.0, abs=1e-9)  # re-attribution moves cost, adds none
    assert restatement["teams"]["discovery"] == pytest.approx(-restatement["teams"]["search"], rel=1e-9)
    assert restatement["teams"]["discovery"] > 0
    report = kube.report(REPORTS_NS, "exported")
    assert "kubecharge.io/restate" not in (report["metadata"].get("annotations") or {})
    base = f"s3://finance/operator/{REPORTS_NS}/exported/2026-10-01"
    for version in ("v1-final", "v2-final"):
        assert run_cli("verify", f"{base}/{version}").returncode == 0
    v2 = json.loads(aws.get_object(Bucket="finance", Key=f"operator/{REPORTS_NS}/exported/2026-10-01/v2-final/"
                                   "manifest.json")["Body"].read())  # fmt: skip
    assert v2["restates"] == "v1-final"
    wait_for(lambda: any(e.reason == "ReportRestated" for e in kube.events(REPORTS_NS, "exported")),
             what="a ReportRestated event")  # fmt: skip


def test_a_full_cost_report_prices_nodes_from_a_bill_in_object_storage(
    kube: Kube, operator: Operator, s3_endpoint: str, aws: Any, cluster: Cluster, cluster_truth: Truth
) -> None:
    """spec.pricing.nodeCostsFrom read with the report's Secret; status says what the cluster cost, and the
    ConfigMap's lines add up to it (the bill's EffectiveCost for the day's node-hours, PVCs and network)."""
    day = datetime(2026, 10, 1, tzinfo=UTC)
    nodes = {node.name: node for node in cluster.nodes}
    rows = [{"ResourceId": nodes[name].provider_id.rsplit("/", 1)[-1], "EffectiveCost": 0.5 + len(name) / 10,
             "ChargePeriodStart": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "ChargePeriodEnd": (hour + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), "BillingCurrency": "USD"}
            for (name, hour) in sorted(cluster_truth.node_hours) if day <= hour < day + timedelta(days=1)]  # fmt: skip
    body = "ResourceId,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,BillingCurrency\n" + "".join(
        f"{r['ResourceId']},{r['EffectiveCost']},{r['ChargePeriodStart']},{r['ChargePeriodEnd']},USD\n" for r in rows
    )
    aws.put_object(Bucket="finance", Key="billing/focus-2026-10-01.csv", Body=body.encode())
    s3_secret(kube, "billing-credentials", s3_endpoint)
    storage = {"url": "s3://finance/full-cost", "secretRef": {"name": "billing-credentials"}, "formats": ["csv"]}
    kube.apply_report(REPORTS_NS, report_manifest(
        "full-cost", pricing={"nodeCostsFrom": {"url": "s3://finance/billing/focus-2026-10-01.csv"}},
        costModel={"idle": "show"}, outputs={"objectStorage": storage}))  # fmt: skip
    status = wait_for(
        lambda: (s := kube.report(REPORTS_NS, "full-cost").get("status") or {}).get("phase") == "Provisional"
        and "2026-10-01" in (s.get("finalizedPeriods") or []) and s,
        what="full-cost report computed",
    )  # fmt: skip
    assert status["totals"]["cost"] >= status["totals"]["nodesCost"] > 0
    csv_text = kube.configmaps(REPORTS_NS, "full-cost")["full-cost-2026-10-01"].data["chargeback.csv"]
    lines = list(csv_module.DictReader(csv_text.splitlines()))
    billed = math.fsum(float(str(r["EffectiveCost"])) for r in rows)
    storage_and_network = math.fsum(float(r["cost_storage"]) + float(r["cost_network"]) for r in lines)
    allocated = math.fsum(float(r["cost_total_allocated"]) for r in lines)
    assert allocated == pytest.approx(billed + storage_and_network, rel=1e-6)
    (idle,) = [r for r in lines if r["team"] == "__idle__"]
    assert float(idle["cost_total"]) > 0
