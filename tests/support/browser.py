"""Headless Chromium for every page people look at: print to PDF (read back with pdftotext) and lay out the DOM."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


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
