"""An HTTP proxy in front of a real server (Prometheus, the S3 server) that can misbehave on chosen requests:
the faults a network, a load balancer or a dying server really produce, at the HTTP level."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

Handler = http.server.BaseHTTPRequestHandler
Intercept = Callable[[Handler, int], bool]  # (request, how many came before it) -> handled here, not forwarded
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "server", "date"}


def answer(handler: Handler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def forward(handler: Handler, upstream: str) -> tuple[int, Any, bytes]:
    """Send the request on to `upstream`; returns (status, headers, body) without answering."""
    length = int(handler.headers.get("Content-Length") or 0)
    request = urllib.request.Request(f"{upstream}{handler.path}", data=handler.rfile.read(length) or None,
                                     method=handler.command, headers=dict(handler.headers))  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as upstream_answer:
            return upstream_answer.status, upstream_answer.headers, upstream_answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def relay(handler: Handler, status: int, headers: Any, body: bytes, send_bytes: int | None = None) -> None:
    """Answer with what upstream said; `send_bytes` sends only that much of the body, then hangs up."""
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in _HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body if send_bytes is None else body[:send_bytes])
    if send_bytes is not None:
        handler.close_connection = True


class FaultyProxy:
    def __init__(self, upstream: str, intercept: Intercept) -> None:
        self.requests = 0
        proxy = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                seen, proxy.requests = proxy.requests, proxy.requests + 1
                if intercept(self, seen):
                    return
                relay(self, *forward(self, upstream))

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve  # noqa: N815 (http.server's names)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
