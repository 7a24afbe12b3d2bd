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
