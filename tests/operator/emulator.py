"""kmock's Kubernetes emulator, completed with what a real API server does and kopf relies on.

kmock 0.8 stores objects as plain JSON; a real API server also stamps `uid`, `resourceVersion` (bumped on every
write, honoured on `?watch=true&resourceVersion=`), `creationTimestamp`, `generation` (bumped on spec changes),
`metadata.namespace` from the URL and a name from `generateName`, answers a create with 201,
and parses `/api/v1/namespaces[/NAME]` as the namespaces resource; kopf's peering resources are known.
This subclass adds exactly that, so the real kopf operator runs against it over HTTP. `refuse` makes the
server answer writes of one resource in one namespace with an error Status, as RBAC or validation would.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import enums, parsing, rendering

_original_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
        return parsing.ParsedPath(
            group="", version="v1", plural="namespaces", name=parts[3] if len(parts) == 4 else None
        )
    return _original_parse_path(path)


parsing.parse_path = _parse_path  # kmock 0.8 reads /api/v1/namespaces/NAME as a namespace with no resource


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    _version: int = attrs.field(default=0, init=False)
    # (plural, namespace) -> (HTTP status, reason, message) for creates and updates
    refuse: dict[tuple[str, str], tuple[int, str, str]] = attrs.field(factory=dict, init=False)

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    async def _handle(self, request: rendering.Request) -> Any:
        if request.resource is not None and request.action in {enums.action.CREATE, enums.action.UPDATE}:
            refusal = self.refuse.get((str(request.resource.plural), str(request.namespace or "")))
            if refusal is not None:
                code, reason, message = refusal
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                          "reason": reason, "message": message}  # fmt: skip
                return aiohttp.web.json_response(status, status=code)
        data = request.data
        if request.resource is not None and isinstance(data, dict):
            metadata = data.setdefault("metadata", {})
            if request.action == enums.action.CREATE:
                if not metadata.get("name") and metadata.get("generateName"):
                    metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
                metadata.setdefault("uid", str(uuid.uuid4()))
                metadata.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                metadata["generation"] = 1
                metadata["resourceVersion"] = self._next_version()
                if request.namespace:
                    metadata["namespace"] = request.namespace
            elif request.action == enums.action.UPDATE and request.name is not None:
                metadata["resourceVersion"] = self._next_version()
                if "spec" in data and request.subresource != "status":
                    key = (request.resource, request.namespace, request.name)
                    if key in self.objects and not self.objects[key].deleted:
                        metadata["generation"] = int(self.objects[key].get("metadata", {}).get("generation", 1)) + 1
        response = await super()._handle(request)
        if request.action == enums.action.CREATE and response.status == 200 and not response.prepared:
            response.set_status(201)  # as the API server answers a create
        return response

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        payload: dict[str, Any] = await super()._serve_list(request)  # type: ignore[assignment]
        payload["metadata"]["resourceVersion"] = str(self._version)
        selector = request.params.get("labelSelector")
        if selector:
            wanted = dict(part.split("=", 1) for part in selector.split(","))
            payload["items"] = [
                item for item in payload["items"]
                if all((item.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]  # fmt: skip
        return payload

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        since = int(request.params.get("resourceVersion") or 0)
        async for event in super()._serve_watch(request):
            if isinstance(event, dict):
                version = int(event.get("object", {}).get("metadata", {}).get("resourceVersion") or 0)
                if event.get("type") == "ADDED" and version and version <= since:
                    continue  # already in the list the client read before watching
            yield event


CRDS = {
    "kubecharge.io/v1alpha1/usagereports": kmock.ResourceInfo(
        kind="UsageReport", singular="usagereport", namespaced=True, subresources={"status"},
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"}),
    "kubecharge.io/v1alpha1/teammappings": kmock.ResourceInfo(
        kind="TeamMapping", singular="teammapping", namespaced=False, subresources={"status"},
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"}),
    "kopf.dev/v1/clusterkopfpeerings": kmock.ResourceInfo(
        kind="ClusterKopfPeering", singular="clusterkopfpeering", namespaced=False,
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"}),
    "kopf.dev/v1/kopfpeerings": kmock.ResourceInfo(
        kind="KopfPeering", singular="kopfpeering", namespaced=True,
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"}),
}  # fmt: skip


@contextmanager
def running_emulator(make: type[ClusterEmulator] = ClusterEmulator) -> Iterator[tuple[ClusterEmulator, str]]:
    """The emulator (`make`'s) on a real HTTP port, in a thread with its own event loop; yields (emulator, url)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), stop
        async with make() as emulator, kmock.Server(emulator) as server:
            emulator.resources.load_bundled()
            for key, info in CRDS.items():
                emulator.resources[key] = info
            holder["emulator"], holder["url"] = emulator, str(server.url).rstrip("/")
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="kube-emulator", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the Kubernetes emulator did not start")
    try:
        yield holder["emulator"], holder["url"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
