"""Names fit for labels and object keys, and what a failure says in status: checked against hand-written cases."""

from __future__ import annotations

import pytest

from kubecharge.domain.names import dns_label_problem
from kubecharge.errors import NoUsageData
from kubecharge.handlers.reports import admission_problem, failure_of, summary
from kubecharge.settings import Settings


@pytest.mark.parametrize("name", ["chargeback", "a", "team-7", "x" * 63])
def test_dns_labels_pass(name: str) -> None:
    assert dns_label_problem("metadata.name", name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../../etc", "is not a DNS label"),
        ("a/b", "is not a DNS label"),
        ("Finance", "is not a DNS label"),
        ("monthly.v2", "is not a DNS label"),  # a valid object name, but not a label value's safe subset
        ("-x", "is not a DNS label"),
        ("x" * 64, "is 64 characters long; at most 63 are allowed"),
        ("", "is missing"),
    ],
)
def test_dns_labels_refused(name: str, problem: str) -> None:
    found = dns_label_problem("metadata.name", name)
    assert found is not None
    assert problem in found


def report(**spec: object) -> dict[str, object]:
    return {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
            "metadata": {"name": "monthly", "namespace": "finance"}, "spec": spec}  # fmt: skip


def test_admission_allows_only_prefixes_the_operator_names() -> None:
    settings = Settings(prometheus_url_allowed_prefixes=["https://thanos.monitoring.svc:9090/"])
    assert admission_problem(report(prometheus={"url": "https://thanos.monitoring.svc:9090"}), settings) is None
    assert admission_problem(report(prometheus={"url": "https://thanos.monitoring.svc:9090/q"}), settings) is None
    for url in ("https://thanos.monitoring.svc:9090.evil.example", "http://169.254.169.254/latest/meta-data",
                "https://thanos.monitoring.svc:90"):  # fmt: skip
        refused = admission_problem(report(prometheus={"url": url}), settings)
        assert refused is not None
        assert refused[0] == "PrometheusUrlNotAllowed", url
    assert admission_problem(report(prometheus={"url": "https://thanos.monitoring.svc:9090"}), Settings()) is not None


def test_a_prefix_must_end_its_host_with_a_slash() -> None:
    with pytest.raises(ValueError, match="an allowed prefix is scheme://host"):
        Settings(prometheus_url_allowed_prefixes=["https://thanos.monitoring.svc:9090"])


def test_file_storage_is_refused_in_a_report_but_s3_is_not() -> None:
    refused = admission_problem(report(outputs={"objectStorage": {"url": "file:///data"}}), Settings())
    assert refused is not None
    assert refused[0] == "ObjectStorageNotAllowed"
    assert admission_problem(report(outputs={"objectStorage": {"url": "s3://finance/x"}}), Settings()) is None


def test_failures_are_summarised_for_status() -> None:
    assert failure_of(NoUsageData("no data\nsecond line")) == ("NoUsageData", "no data second line")
    reason, message = failure_of(KeyError("result"))
    assert reason == "InternalError"
    assert "KeyError" in message
    assert "'result'" not in message  # an internal error's details go to the log, not to status
    reason, message = failure_of(PermissionError(13, "Permission denied", "/exports/x.csv"))
    assert (reason, message) == ("FileSystemError", "Permission denied (/exports/x.csv); retrying")
    assert summary("x" * 1000) == "x" * 399 + "…"
