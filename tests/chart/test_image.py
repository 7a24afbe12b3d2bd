"""The image, built the way the Dockerfile builds it (no Docker engine here): the same files copied, installed
into a fresh venv (not editable), then the entry points run from outside the checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from kubecharge.synthetic.local_prometheus import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_install_runs_the_operator_entry_point(tmp_path: Path) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M), "the image must run as a non-root user"
    assert 'ENTRYPOINT ["kubecharge"]' in dockerfile
    assert 'CMD ["operator"]' in dockerfile
    source = tmp_path / "src"
    source.mkdir()
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M):
        *items, _target = line.split()
        for item in items:
            path = ROOT / item.rstrip("/")
            if path.is_dir():
                shutil.copytree(path, source / item.rstrip("/"))
            else:
                shutil.copy2(path, source / item)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([venv / "bin" / "pip", "install", "-q", str(source)], capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    kubecharge = venv / "bin" / "kubecharge"
    for args in (["--help"], ["operator", "--help"]):
        result = subprocess.run([kubecharge, *args], capture_output=True, text=True, cwd=tmp_path, check=False)
        assert result.returncode == 0, result.stderr
    assert "KUBECHARGE_" in subprocess.run([kubecharge, "operator", "--help"], capture_output=True, text=True,
                                           cwd=tmp_path, check=False).stdout  # fmt: skip
    # Package data made it into the wheel: migrations, CRD schemas and report templates.
    database = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade = subprocess.run([kubecharge, "db", "upgrade", "--db", database], capture_output=True, text=True,
                             cwd=tmp_path, check=False)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    probe = (
        "from kubecharge.packaged import crds_dir, templates_dir; "
        "print(sorted(p.name for p in crds_dir().iterdir()), sorted(p.name for p in templates_dir().iterdir()))"
    )
    listed = subprocess.run([venv / "bin" / "python", "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                            check=True).stdout  # fmt: skip
    assert "usagereports.kubecharge.io.yaml" in listed
    assert "report.html.j2" in listed
    assert (
        str(ROOT)
        not in subprocess.run(
            [venv / "bin" / "python", "-c", "import kubecharge; print(kubecharge.__file__)"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        ).stdout
    )
    # The portal serves from the installed package: its templates and stylesheet are in the wheel.
    port = free_port()
    serve = subprocess.Popen([kubecharge, "serve", "--auth", "none", "--port", str(port), "--host", "127.0.0.1",
                              "--mappings", str(ROOT / "examples" / "teammappings.yaml"), "--report",
                              str(ROOT / "examples" / "usagereport.yaml"), "--db", database],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        answers: dict[str, int] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not answers:
            try:
                answers = {path: requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code
                           for path in ("/healthz", "/static/portal.css", "/", "/api/v1/periods")}  # fmt: skip
            except requests.ConnectionError:
                time.sleep(0.3)
    finally:
        serve.terminate()
        serve.wait(30)
    assert answers == {"/healthz": 200, "/static/portal.css": 200, "/": 200, "/api/v1/periods": 200}
