"""The CRDs carry what kubectl users see: short names, printer columns, the status subresource, defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CRDS = Path(__file__).resolve().parents[3] / "crds"


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CRDS / name).read_text()))


def test_usagereport_crd() -> None:
    crd = load("usagereports.kubecharge.io.yaml")
    assert crd["spec"]["scope"] == "Namespaced"
    assert "ur" in crd["spec"]["names"]["shortNames"]
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert columns == ["Period", "Phase", "Cost", "Forecast", "Coverage", "Age"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["period"]["default"] == "monthly"
    assert spec["chargeBasis"]["default"] == "max"
    assert spec["finalizeAfter"]["default"] == "48h"


def test_teammapping_crd() -> None:
    crd = load("teammappings.kubecharge.io.yaml")
    assert crd["spec"]["scope"] == "Cluster"
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Team", "Namespaces", "Age"]
    assert version["schema"]["openAPIV3Schema"]["properties"]["spec"]["required"] == ["team"]
