"""What every answer of the portal carries: a content security policy without inline scripts or styles, no
framing, no sniffing, no referrer; and the request counts and latencies `/metrics` exports, by route and status."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kubecharge.portal")

HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # costs are per viewer: no shared cache keeps them
]  # fmt: skip


class PortalMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kubecharge_portal_requests_total", "Portal requests by route and HTTP status.",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        self.seconds = Histogram("kubecharge_portal_request_seconds", "Portal request latency by route.", ["route"],
                                 registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10))  # fmt: skip


class Guarded:
    """ASGI middleware: the headers above on every answer, and each request counted under its route's name."""

    def __init__(self, app: ASGIApp, metrics: PortalMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        finally:
            route = _route(scope)
            log.info("%s %s %d", scope["method"], scope["path"], status)  # never the query: it may hold a token
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.seconds.labels(route).observe(time.perf_counter() - began)


def _route(scope: dict[str, Any] | Scope) -> str:
    endpoint = scope.get("endpoint")
    return getattr(endpoint, "__name__", "unknown")
