"""The layering contracts (pyproject.toml, `[tool.importlinter]`) hold for the code, and break on a wrong import.

The test command runs `lint-imports` itself; these tests prove the contracts are not vacuous: a copy of the package
with one import that skips the pipeline (or reaches the synthetic cluster from production code) is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(package_root: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "operator" / "kubecharge", root / "kubecharge",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return root


def test_the_code_keeps_every_contract() -> None:
    checked = lint(ROOT / "operator")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "4 kept, 0 broken" in checked.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("handlers/status.py", "from kubecharge.store.repository import Repository", "through the pipeline"),
        ("cli.py", "from kubecharge.render.data_files import chargeback_csv", "through the pipeline"),
        ("collect/promql.py", "from kubecharge.store import tables", "stages (each on its own)"),
        ("pipeline/run.py", "from kubecharge.synthetic.model import build_cluster", "synthetic cluster"),
        ("pipeline/job.py", "from kubecharge.kube.client import api_client", "Kubernetes API"),
        ("domain/usage.py", "from kubecharge.pipeline import job", "entry points → pipeline"),
    ],
)
def test_a_wrong_import_breaks_its_contract(copy: Path, module: str, wrong_import: str, contract: str) -> None:
    path = copy / "kubecharge" / module
    original = path.read_text()
    path.write_text(original + f"\n{wrong_import}  # deliberately wrong\n")
    try:
        checked = lint(copy)
    finally:
        path.write_text(original)
    assert checked.returncode == 1, checked.stdout
    broken = checked.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, checked.stdout
    assert "0 broken" not in checked.stdout
