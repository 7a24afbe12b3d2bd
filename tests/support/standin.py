"""A small HTTP(S) stand-in for a Prometheus-compatible querier (Thanos Query, Mimir) in front of a real Prometheus.

It forwards every request to the real server, records what it was sent, may demand a tenant and credentials as
Mimir's gateway does, and may answer as Thanos does when a store is missing: `warnings` beside the (partial)
data, or an error when partial responses are disabled.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass
class Behaviour:
    required_headers: dict[str, str] = field(default_factory=dict)
    warn_on: str | None = None  # a fragment of the queries answered with Thanos' partial-response warning
    fail_on: str | None = None  # ... answered with Thanos' error when partial_response=false
    max_range_hours: int | None = None  # range queries over more hours are refused as Prometheus refuses a query
    # that would load more than --query.max-samples (what a day of a 5,000-pod cluster is to the default limit)
    refused: int = 0
    seen: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)  # (headers, form) per query


WARNING = "No StoreAPIs matched for this query"
TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"


@contextmanager
def standin(upstream: str, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve the stand-in on 127.0.0.1 (HTTPS with `tls`); yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            self._forward("GET", b"")

        def do_POST(self) -> None:
            self._forward("POST", self.rfile.read(int(self.headers.get("Content-Length", "0"))))

        def _forward(self, method: str, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items()}
            for name, value in behaviour.required_headers.items():
                if headers.get(name) != value:
                    self._send(401, {"status": "error", "errorType": "unauthorized", "error": f"{name} missing"})
                    return
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            query = form.get("query", "")
            if self.path.startswith("/api/v1/query"):
                behaviour.seen.append((headers, form))
            if behaviour.max_range_hours and self.path.startswith("/api/v1/query_range"):
                hours = (float(form["end"]) - float(form["start"])) / 3600 + 1
                if hours > behaviour.max_range_hours:
                    behaviour.refused += 1
                    self._send(422, {"status": "error", "errorType": "execution", "error": TOO_MANY_SAMPLES})
                    return
            if behaviour.fail_on and behaviour.fail_on in query:
                self._send(422, {"status": "error", "errorType": "execution",
                                 "error": "receive series from store: partial response disabled"})  # fmt: skip
                return
            answer = requests.request(method, upstream + self.path, data=body or None, timeout=300,
                                      headers={"Content-Type": headers.get("Content-Type", "")})  # fmt: skip
            payload = answer.json()
            if behaviour.warn_on and behaviour.warn_on in query and payload.get("status") == "success":
                payload["warnings"] = [WARNING]
                payload["data"]["result"] = payload["data"]["result"][: len(payload["data"]["result"]) // 2]
            self._send(answer.status_code, payload)

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
