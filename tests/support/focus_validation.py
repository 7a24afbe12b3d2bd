"""Run the FinOps Foundation's focus-validator (its own Python 3.12 venv) and read its JUnit verdict.

The validator exits 0 even when rules fail, so the verdict is read from the JUnit XML. It opens data files by a
relative path, so it runs from its package's parent directory. One known false positive is allowed.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# What the export honestly supports (FOCUS 1.2 applicability criteria).
APPLICABILITY = (
    "USAGE_MEASUREMENT_SUPPORTED,UNIT_PRICING_SUPPORTED,SUB_ACCOUNT_SUPPORTED,RESOURCE_TYPE_ASSIGNMENT_SUPPORTED,"
    "TAGGING_SUPPORTED,ACCOUNT_NAMING_SUPPORTED"
)
KNOWN_FALSE_POSITIVES = {"InvoiceId-C-004-C"}  # focus-validator 2.2.1 reports the losing branch of an OR rule


def validator_python() -> Path:
    venv = Path(os.environ.get("KUBECHARGE_FOCUS_VENV", Path(__file__).resolve().parents[2] / ".focus-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"focus-validator is not installed in {venv}; run `bash scripts/dev.sh setup`")
    return python


@dataclass(frozen=True)
class Verdict:
    tests: int
    problems: list[str]  # "rule-id: message" for each failure or error not known to be a false positive


def validate(data_file: Path, work: Path) -> Verdict:
    python = validator_python()
    locate = "import focus_validator, os; print(os.path.dirname(focus_validator.__path__[0]))"
    site = subprocess.run([python, "-c", locate], capture_output=True, text=True, check=True).stdout.strip()
    report = work / "focus-junit.xml"
    subprocess.run(
        [python, "-m", "focus_validator.main", "--data-file", str(data_file.resolve()), "--validate-version", "1.2",
         "--block-download", "--applicability-criteria", APPLICABILITY, "--output-type", "unittest",
         "--output-destination", str(report.resolve())],
        cwd=site, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    root = ET.parse(report).getroot()
    problems = []
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            found = case.find(tag)
            rule = (case.get("name") or "").split(" ")[0]
            if found is not None and rule not in KNOWN_FALSE_POSITIVES:
                problems.append(f"{case.get('name')}: {found.get('message') or found.text or ''}"[:400])
    return Verdict(int(root.get("tests") or 0), problems)
