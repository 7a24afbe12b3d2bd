"""Where the files that ship with kubecharge live: CRDs and report templates.

In a wheel they are package data (`kubecharge/crds`, `kubecharge/reports_templates`); in a source checkout
(editable install) they are the top-level `crds/` and `reports_templates/` folders, the single source.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _locate(folder: str) -> Path:
    packaged = Path(str(resources.files("kubecharge"))) / folder
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / folder
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"kubecharge is installed without its {folder}/ folder; reinstall the package")


def crds_dir() -> Path:
    return _locate("crds")


def templates_dir() -> Path:
    return _locate("reports_templates")
