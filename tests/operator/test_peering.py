"""An operator started without its ClusterKopfPeering (installed outside the chart, or the object deleted) used to
wait for ever in silence. It now says which object to create (or KUBECHARGE_STANDALONE=true) in its log, and its
health probe fails — the pod is not ready — until the object exists."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubecharge.settings import Settings
from kubecharge.store import schema
from kubecharge.synthetic.local_prometheus import free_port
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, OperatorThread, wait_for


def health(port: int) -> int:
    """The health probe's HTTP status; 0 when nothing answers (kopf serves it once its indices are ready)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError:
        return 0


def test_a_missing_peering_object_is_named_and_the_pod_is_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    with running_emulator() as (_, url):
        kube = Kube(url)
        settings = Settings(
            kube_api_url=url, database_url=f"sqlite:///{tmp_path / 'operator.db'}", standalone=False,
            peering_name="kubecharge-ledger", liveness_port=free_port(), metrics_port=free_port(),
        )  # fmt: skip
        schema.upgrade(settings.database_url)
        thread = OperatorThread(settings, clock=lambda: datetime.now(UTC)).start()
        try:
            said = wait_for(lambda: next((r.getMessage() for r in caplog.records
                                          if "ClusterKopfPeering 'kubecharge-ledger'" in r.getMessage()), None),
                            what="the missing peering object named in the log")  # fmt: skip
            assert "does not exist" in said
            assert "KUBECHARGE_STANDALONE=true" in said
            assert health(settings.liveness_port or 0) in (0, 500)  # not ready: refused, or the probe fails
            kube.custom.create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", {
                "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
                "metadata": {"name": "kubecharge-ledger"}})  # fmt: skip
            wait_for(lambda: health(settings.liveness_port or 0) == 200 or None, what="ready once it exists")
        finally:
            thread.stop()
