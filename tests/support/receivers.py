"""Real endpoints for showback messages: an HTTP server that records every POST (and answers what a test scripts
per path), and aiosmtpd's SMTP server with STARTTLS and AUTH (a certificate from a throwaway CA)."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kubecharge.synthetic.local_prometheus import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class WebhookReceiver:
    """POSTs recorded in order; `script[path]` is a list of statuses to answer first (then 200), `always[path]`
    a status answered every time."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    always: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answered(self, path: str, ok: bool = True) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path and (200 <= r.status < 300) == ok]

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    queued = receiver.script.get(self.path) or []
                    status = queued.pop(0) if queued else receiver.always.get(self.path, 200)
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    over_tls: bool
    login: str | None


class _Recorder:
    def __init__(self, box: MailReceiver) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        signed_in = session.authenticated and isinstance(session.auth_data, LoginPassword)
        login = session.auth_data.login.decode() if signed_in else None
        with self.box.lock:
            self.box.mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed,
                                       session.ssl is not None, login))  # fmt: skip
        return "250 OK"


@dataclass
class MailReceiver:
    """An SMTP server that offers STARTTLS and requires it (and AUTH with `username`/`password`) before mail."""

    username: str = "kubecharge"
    password: str = "mail-s3cret"
    port: int = field(default_factory=free_port)
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ca_pem: str = ""

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.username, self.password)  # fmt: skip
        return AuthResult(success=ok, handled=False, auth_data=data)

    @contextmanager
    def running(self) -> Iterator[MailReceiver]:
        authority = trustme.CA()
        self.ca_pem = authority.cert_pem.bytes().decode()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(context)
        controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port, tls_context=context,
                                require_starttls=True, authenticator=self._authenticate, auth_require_tls=True,
                                ready_timeout=30)  # fmt: skip
        controller.start()
        try:
            yield self
        finally:
            controller.stop()
