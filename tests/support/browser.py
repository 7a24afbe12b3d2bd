"""Headless Chromium for every page people look at: print to PDF (read back with pdftotext), lay out the DOM, and
drive it over the DevTools protocol (cookies, downloads)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

from kubecharge.synthetic.local_prometheus import free_port


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        raise RuntimeError("chromium is not installed; run `bash scripts/dev.sh setup`")
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def pdf_pages(html: Path, paper: str, tmp: Path) -> list[str]:
    """The page printed on `paper` (A4 or Letter), as the text of each page."""
    page = tmp / f"report-{paper}.html"
    page.write_text(html.read_text().replace("</style>", f"@page {{ size: {paper}; }}\n</style>"))
    pdf = tmp / f"report-{paper}.pdf"
    printed = chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.is_file(), printed.stderr
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def layout_probe(width: int, measures: str = "") -> str:
    """A script for a page opened as a file: once laid out at `width`, it writes `{width, wide, ...}` into
    `<pre id="probe">` for `--dump-dom` — `wide` the elements reaching past the viewport, and whatever the
    JavaScript object members in `measures` add (e.g. `n: document.querySelectorAll("rect").length`)."""
    return f"""<script>
window.addEventListener("load", () => {{
  const wanted = {width};
  if (document.documentElement.clientWidth > wanted) document.documentElement.style.width = `${{wanted}}px`;
  const width = Math.min(document.documentElement.clientWidth, wanted);
  const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => `${{e.tagName}}#${{e.id}}.${{e.className}}`);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({{width, wide, {measures}}});
  document.body.appendChild(probe);
}});
</script>"""


class DevToolsBrowser:
    """Headless Chromium driven over the DevTools protocol (its websocket): what `--dump-dom` cannot do — keep a
    profile's cookies across pages in one running browser, and download a file as a person would."""

    def __init__(self, profile: Path, downloads: Path) -> None:
        self.profile, self.downloads = profile, downloads
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: websocket.WebSocket | None = None
        self._calls = 0

    def __enter__(self) -> DevToolsBrowser:
        binary = shutil.which("chromium")
        if binary is None:
            raise RuntimeError("chromium is not installed; run `bash scripts/dev.sh setup`")
        port = free_port()
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
                   f"--user-data-dir={self.profile}", "about:blank"]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=2) as answer:
                    address = json.load(answer)["webSocketDebuggerUrl"]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._socket = websocket.create_connection(address, timeout=60)
        self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(self.downloads))
        return self

    def __exit__(self, *_: object) -> None:
        if self._socket is not None:
            self._socket.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(30)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._socket is not None
        self._calls += 1
        self._socket.send(json.dumps({"id": self._calls, "method": method, "params": params}))
        while True:
            message: dict[str, Any] = json.loads(self._socket.recv())
            if message.get("id") == self._calls:
                assert "error" not in message, message
                return dict(message.get("result", {}))

    def open(self, url: str) -> None:
        """A new tab at `url` (its redirects followed, its cookies kept in the profile)."""
        self.call("Target.createTarget", url=url)

    def cookie(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """The cookie `name` once the browser holds it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.call("Storage.getCookies").get("cookies", []):
                if found["name"] == name:
                    return dict(found)
            time.sleep(0.2)
        raise AssertionError(f"no cookie {name} within {timeout:.0f}s")

    def download(self, url: str, timeout: float = 60.0) -> Path:
        """Follow a link to a file served as an attachment; the file as saved."""
        before = set(self.downloads.iterdir())
        self.open(url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [path for path in self.downloads.iterdir() if path not in before]
            if new and not any(path.suffix == ".crdownload" for path in new):
                return new[0]
            time.sleep(0.1)
        raise AssertionError(f"{url} was not downloaded within {timeout:.0f}s")
