"""Run the real kopf operator in a thread against the emulator, and talk to it the way kubectl would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import kubernetes

from kubecharge.handlers.app import run_operator
from kubecharge.settings import Settings
from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster

T = TypeVar("T")
GROUP, VERSION = "kubecharge.io", "v1alpha1"
ROOT = Path(__file__).resolve().parents[2]


class OperatorThread:
    """`kubecharge operator` in its own thread and event loop (kopf cancels what it did not start)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kubecharge-operator", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(run_operator(self.settings, clock=self.clock, stop_flag=self.stop_flag,
                                     ready_flag=self.ready_flag))  # fmt: skip
        except BaseException as error:  # surfaced by stop()
            self.error = error

    def start(self) -> OperatorThread:
        self.thread.start()
        if not self.ready_flag.wait(60):
            raise RuntimeError(f"the operator did not become ready: {self.error!r}")
        return self

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join(60)
        if self.thread.is_alive():
            raise RuntimeError("the operator did not stop")
        if self.error is not None:
            raise RuntimeError("the operator crashed") from self.error


WAIT_SECONDS = 300.0


def wait_for(probe: Callable[[], T | None], timeout: float = WAIT_SECONDS, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy. The bound is generous on purpose: it is how long a loaded
    machine may take for what the test waits on (a run that collects a month on a two-core machine shared with two
    CPU hogs and the other test worker took over 90 s), not how long it should take; a real hang still fails."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except kubernetes.client.exceptions.ApiException as error:
            if error.status != 404:
                raise
            last = None
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


class Replica:
    """`python -m tests.operator.replica`: one operator replica in its own process, as a pod runs it (settings
    from the KUBECHARGE_* environment), killable the way a node failure kills a pod."""

    def __init__(self, name: str, environment: dict[str, str], log: Path, clock: datetime,
                 metrics_port: int | None = None) -> None:  # fmt: skip
        self.name = name
        self.log = log
        self.metrics_port = metrics_port or free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.operator.replica", clock.isoformat()],
            env={**os.environ, **environment, "KUBECHARGE_POD_NAME": name,
                 "KUBECHARGE_METRICS_PORT": str(self.metrics_port), "KUBECHARGE_LIVENESS_PORT": str(free_port())},
            stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class Kube:
    """Thin kubectl: apply, get, patch, list ConfigMaps and Events."""

    def __init__(self, url: str, emulator: Any = None) -> None:
        self.api = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=url))
        self.emulator = emulator  # the `ClusterEmulator` behind it, where a test makes it refuse writes
        # Typed loosely on purpose: tests pass plain dicts, as kubectl would send YAML.
        self.core: Any = kubernetes.client.CoreV1Api(self.api)
        self.custom: Any = kubernetes.client.CustomObjectsApi(self.api)

    def namespace(self, name: str, labels: dict[str, str]) -> None:
        self.core.create_namespace({"metadata": {"name": name, "labels": labels}})

    def apply_mapping(self, manifest: dict[str, Any]) -> None:
        self.custom.create_cluster_custom_object(GROUP, VERSION, "teammappings", manifest)

    def mapping(self, name: str) -> dict[str, Any]:
        return dict(self.custom.get_cluster_custom_object(GROUP, VERSION, "teammappings", name))

    def patch_mapping(self, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(GROUP, VERSION, "teammappings", name, patch)

    def apply_report(self, namespace: str, manifest: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "usagereports", manifest)

    def report(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "usagereports", name))

    def patch_report(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "usagereports", name, patch)

    def configmaps(self, namespace: str, report: str) -> dict[str, Any]:
        items = self.core.list_namespaced_config_map(namespace).items
        return {
            cm.metadata.name: cm for cm in items if (cm.metadata.labels or {}).get("kubecharge.io/report") == report
        }

    def events(self, namespace: str, name: str) -> list[Any]:
        return [e for e in self.core.list_namespaced_event(namespace).items if e.involved_object.name == name]


def populate(kube: Kube, cluster: Cluster, *report_namespaces: str) -> None:
    """The cluster's namespaces (with their labels at the end of the history), its TeamMappings, and empty
    namespaces for the UsageReports."""
    for namespace in cluster.namespaces:
        kube.namespace(namespace.name, namespace.labels_at(cluster.slots - 1))
    for name in report_namespaces:
        kube.namespace(name, {})
    for mapping in cluster.team_mappings:
        kube.apply_mapping(dict(mapping))


def status_of(kube: Kube, namespace: str, name: str, phase: str, reason: str | None = None) -> dict[str, Any]:
    """Wait until the report's status has `phase` (and its Ready condition `reason`); return the status."""

    def probe() -> dict[str, Any] | None:
        status = kube.report(namespace, name).get("status") or {}
        ready = (status.get("conditions") or [{}])[0]
        if status.get("phase") == phase and (reason is None or ready.get("reason") == reason):
            return status
        return None

    return wait_for(probe, what=f"{namespace}/{name} {phase} {reason or ''}".strip())


class TcpRelay:
    """A TCP relay in front of Prometheus that can be taken down and brought back: a real outage."""

    def __init__(self, target_port: int, port: int) -> None:
        self.target_port = target_port
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self.loop.run_forever, name="tcp-relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, upstream_writer}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.close()
            self.writers.clear()
            await self.server.wait_closed()
            self.server = None

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
