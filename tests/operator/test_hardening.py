"""Every failure reaches status, and no UsageReport can point the operator somewhere it should not go.

The real operator against the emulator and the session's real Prometheus. Each test asserts the exact outcome:
the phase and reason in status, the one-line message (never a raw response body), the Event, and what was
not done: no request to a URL outside the allowlist, no folder created, no ConfigMap changed, no run recorded.
"""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubecharge.settings import Settings
from kubecharge.store import schema
from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster
from tests.operator.emulator import ClusterEmulator, running_emulator
from tests.operator.support import Kube, OperatorThread, populate, status_of, wait_for

NOW = datetime(2026, 10, 2, 12, tzinfo=UTC)
REPORTS_NS = "finops"
SECRET = "SECRET-BODY-7731"  # in every body the decoy answers: it must never reach status or Events


class Decoy:
    """An HTTP server that is not Prometheus (a login page, say): counts every request by path."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(self.path)
                body = f"<html><body>Sign in. {SECRET}</body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def decoy() -> Iterator[Decoy]:
    server = Decoy()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def setup(cluster: Cluster, prometheus_url: str, decoy: Decoy,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterEmulator, Kube, Settings]]:  # fmt: skip
    work = tmp_path_factory.mktemp("hardening")
    with running_emulator() as (emulator, url):
        kube = Kube(url)
        populate(kube, cluster, REPORTS_NS, "locked")
        settings = Settings(
            kube_api_url=url, prometheus_url=prometheus_url, database_url=f"sqlite:///{work / 'operator.db'}",
            cluster_name="synthetic", report_interval_seconds=2, mapping_interval_seconds=1, retry_delay_seconds=1,
            retry_max_delay_seconds=2, metrics_port=free_port(), liveness_port=free_port(), standalone=True,
            prometheus_url_allowed_prefixes=[f"{decoy.url}/allowed/"],
        )  # fmt: skip
        schema.upgrade(settings.database_url)
        thread = OperatorThread(settings, clock=lambda: NOW).start()
        try:
            yield emulator, kube, settings
        finally:
            thread.stop()


def report(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
            "metadata": {"name": name, "namespace": REPORTS_NS},
            "spec": {"period": "daily", "finalizeAfter": "1h", **spec}}  # fmt: skip


def runs(settings: Settings, name: str, namespace: str = REPORTS_NS) -> int:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT count(*) FROM report_runs WHERE report = ?",
                              (f"{namespace}/{name}",)).fetchone()[0])  # fmt: skip


def failed_event(kube: Kube, name: str, reason: str, namespace: str = REPORTS_NS) -> str:
    return str(wait_for(lambda: next((e.message for e in kube.events(namespace, name)
                                      if e.reason == "ReportFailed" and e.message.startswith(reason)), None),
                        what=f"a ReportFailed event for {reason}"))  # fmt: skip


def test_a_prometheus_url_outside_the_allowlist_is_never_fetched(
    setup: tuple[ClusterEmulator, Kube, Settings], decoy: Decoy
) -> None:
    _, kube, settings = setup
    kube.apply_report(REPORTS_NS, report("elsewhere", prometheus={"url": f"{decoy.url}/internal/admin"}))
    status = status_of(kube, REPORTS_NS, "elsewhere", "Failed", "PrometheusUrlNotAllowed")
    assert status["lastRun"]["message"].startswith(f"spec.prometheus.url {decoy.url}/internal/admin is not allowed")
    assert "prometheus.allowedReportUrlPrefixes" in status["lastRun"]["message"]
    assert "PrometheusUrlNotAllowed" in failed_event(kube, "elsewhere", "PrometheusUrlNotAllowed")
    assert not [hit for hit in decoy.hits if hit.startswith("/internal")]  # not one request was sent there
    assert runs(settings, "elsewhere") == 0
    assert kube.configmaps(REPORTS_NS, "elsewhere") == {}


def test_an_allowed_url_that_is_not_prometheus_fails_without_echoing_its_body(
    setup: tuple[ClusterEmulator, Kube, Settings], decoy: Decoy
) -> None:
    _, kube, _ = setup
    kube.apply_report(REPORTS_NS, report("login-page", prometheus={"url": f"{decoy.url}/allowed"}))
    status = status_of(kube, REPORTS_NS, "login-page", "Failed", "PrometheusUnavailable")
    message = status["lastRun"]["message"]
    assert "HTTP 200" in message, message
    assert "is not a Prometheus API answer" in message, message
    assert [hit for hit in decoy.hits if hit.startswith("/allowed/api/v1/")]  # it was asked, as allowed
    event = failed_event(kube, "login-page", "PrometheusUnavailable")
    for text in (message, event, str(status)):
        assert SECRET not in text
    assert kube.configmaps(REPORTS_NS, "login-page") == {}


def test_a_file_url_in_a_report_is_refused_and_nothing_is_created(
    setup: tuple[ClusterEmulator, Kube, Settings], tmp_path: Path
) -> None:
    _, kube, settings = setup
    target = tmp_path / "operator-volume" / "exports"
    kube.apply_report(REPORTS_NS, report("to-disk", outputs={"objectStorage": {"url": f"file://{target}"}}))
    status = status_of(kube, REPORTS_NS, "to-disk", "Failed", "ObjectStorageNotAllowed")
    assert "may not be a file:// URL in a UsageReport" in status["lastRun"]["message"]
    failed_event(kube, "to-disk", "ObjectStorageNotAllowed")
    assert not (tmp_path / "operator-volume").exists()
    assert runs(settings, "to-disk") == 0
    assert kube.configmaps(REPORTS_NS, "to-disk") == {}


def test_a_name_too_long_for_a_label_fails_before_any_work(setup: tuple[ClusterEmulator, Kube, Settings]) -> None:
    _, kube, settings = setup
    name = "chargeback-for-the-platform-engineering-organisation-all-clusters-x"
    assert len(name) == 67
    kube.apply_report(REPORTS_NS, report(name))
    status = status_of(kube, REPORTS_NS, name, "Failed", "InvalidName")
    assert "is 67 characters long; at most 63 are allowed" in status["lastRun"]["message"]
    failed_event(kube, name, "InvalidName")
    assert runs(settings, name) == 0
    assert kube.configmaps(REPORTS_NS, name) == {}


@pytest.mark.parametrize(
    ("code", "reason", "hint"),
    [
        (403, "Forbidden", "grant the operator's ServiceAccount"),
        (422, "Unprocessable Entity", "the API server finds the ConfigMap invalid"),
    ],
)
def test_a_configmap_the_api_server_refuses_fails_the_report_and_changes_nothing(
    setup: tuple[ClusterEmulator, Kube, Settings], code: int, reason: str, hint: str
) -> None:
    emulator, kube, _ = setup
    name = f"refused-{code}"
    kube.apply_report("locked", {**report(name), "metadata": {"name": name, "namespace": "locked"}})
    status_of(kube, "locked", name, "Provisional")
    before = kube.configmaps("locked", name)
    assert set(before) == {f"{name}-2026-10-01", f"{name}-2026-10-02"}

    emulator.refuse[("configmaps", "locked")] = (code, reason, f"configmaps is forbidden: {SECRET}")
    try:
        kube.patch_report("locked", name, {"spec": {"chargeBasis": "usage"}})  # new numbers to write
        status = status_of(kube, "locked", name, "Failed", "KubernetesApiError")
        message = status["lastRun"]["message"]
        assert message.startswith(f"cannot write ConfigMap locked/{name}-2026-10-0"), message
        assert f"the API server answered {code} {reason}; {hint}" in message
        assert SECRET not in message
        assert SECRET not in failed_event(kube, name, "KubernetesApiError", "locked")
        during = kube.configmaps("locked", name)
        assert {k: (v.metadata.resource_version, v.data) for k, v in during.items()} == {
            k: (v.metadata.resource_version, v.data) for k, v in before.items()
        }
    finally:
        del emulator.refuse[("configmaps", "locked")]
    status = status_of(kube, "locked", name, "Provisional")  # retried with backoff, and recovered
    assert status["lastRun"]["result"] == "Succeeded"
    after = kube.configmaps("locked", name)[f"{name}-2026-10-02"]
    assert after.data != before[f"{name}-2026-10-02"].data  # the usage basis, written once allowed


def test_a_typo_in_a_field_is_refused_in_status_with_the_nearest_name(
    setup: tuple[ClusterEmulator, Kube, Settings],
) -> None:
    """kubectl's strict field validation refuses it; the operator must not silently charge on `max` instead."""
    _, kube, settings = setup
    kube.apply_report(REPORTS_NS, report("typo", chargebasis="usage"))
    status = status_of(kube, REPORTS_NS, "typo", "Failed", "InvalidSpec")
    assert "spec.chargebasis: unknown field; did you mean spec.chargeBasis?" in status["lastRun"]["message"]
    assert runs(settings, "typo") == 0
    assert kube.configmaps(REPORTS_NS, "typo") == {}
