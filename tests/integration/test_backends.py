"""Thanos- and Mimir-style queriers, through a stand-in in front of the real Prometheus: partial answers fail the run
and write nothing; tenant, bearer token, basic auth and a private CA reach the backend."""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy
import trustme

from kubecharge.synthetic.model import Truth
from tests.conftest import START
from tests.integration.test_accuracy import COLUMNS
from tests.support.reports import by_team, read_csv, run_cli
from tests.support.standin import WARNING, Behaviour, standin

DAY = "2026-10-01"


def report(url: str, mappings: Path, work: Path) -> tuple[int, str]:
    work.mkdir(exist_ok=True)
    database = f"sqlite:///{work / 'k.db'}"
    result = run_cli("report", "--prometheus", url, "--mappings", str(mappings), "--period", DAY,
                     "--out", str(work / "out"), "--db", database, "--cluster", "synthetic")  # fmt: skip
    return result.returncode, result.stderr


def stored_rows(work: Path) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{work / 'k.db'}")
    with engine.connect() as connection:
        tables = sqlalchemy.inspect(connection).get_table_names()
        return sum(connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                   for t in ("hourly_usage", "ledger_hours") if t in tables)  # fmt: skip


def assert_day_matches_truth(out: Path, cluster_truth: Truth) -> None:
    measured = by_team(read_csv(out / "chargeback.csv"))
    expected = cluster_truth.by_team(START, START + timedelta(days=1))
    for team, values in measured.items():
        for column, quantity in COLUMNS.items():
            assert values[column] == pytest.approx(expected[team][quantity], rel=0.01, abs=1e-6), (team, column)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (Behaviour(warn_on="kube_pod_container_resource_requests"), "only in part"),
        (Behaviour(fail_on="container_memory_working_set_bytes"), "partial response disabled"),
    ],
    ids=["warnings", "partial-response-error"],
)
def test_a_partial_answer_fails_the_run_with_one_message_and_writes_nothing(
    behaviour: Behaviour, message: str, prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    with standin(prometheus_url, behaviour) as url:
        code, stderr = report(url, mappings_file, tmp_path)
    assert code == 3, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert message in lines[0]
    assert WARNING in lines[0] or behaviour.fail_on
    assert not (tmp_path / "out").exists()
    assert stored_rows(tmp_path) == 0
    # Every query asked Thanos not to answer in part, to deduplicate replicas, and VictoriaMetrics not to cache.
    assert behaviour.seen
    for _, form in behaviour.seen:
        assert (form["partial_response"], form["dedup"], form["nocache"]) == ("false", "true", "1")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_tenant_bearer_token_and_a_private_ca_reach_a_mimir_gateway(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    authority: trustme.CA, tls_server: ssl.SSLContext, cluster_truth: Truth,
) -> None:  # fmt: skip
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n")
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    behaviour = Behaviour(required_headers={"X-Scope-OrgID": "finops", "Authorization": "Bearer s3cr3t-token"})
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_TENANT", "finops")
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_BEARER_TOKEN_FILE", str(token))
    with standin(prometheus_url, behaviour, tls=tls_server) as url:
        code, stderr = report(url, mappings_file, tmp_path / "untrusted")
        assert code == 3, stderr
        assert "KUBECHARGE_PROMETHEUS_CA_FILE" in stderr
        assert len(stderr.strip().splitlines()) == 1
        monkeypatch.setenv("KUBECHARGE_PROMETHEUS_CA_FILE", str(ca))
        code, stderr = report(url, mappings_file, tmp_path / "trusted")
    assert code == 0, stderr
    assert_day_matches_truth(tmp_path / "trusted" / "out", cluster_truth)
    assert all(headers["X-Scope-OrgID"] == "finops" for headers, _ in behaviour.seen)


def test_basic_auth_and_a_wrong_password_is_one_clear_message(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_truth: Truth
) -> None:
    password = tmp_path / "password"
    password.write_text("hunter2")
    behaviour = Behaviour(required_headers={"Authorization": "Basic ZmlubGFuZDpodW50ZXIy"})  # finland:hunter2
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_BASIC_AUTH_USERNAME", "finland")
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_BASIC_AUTH_PASSWORD_FILE", str(password))
    with standin(prometheus_url, behaviour) as url:
        code, stderr = report(url, mappings_file, tmp_path / "ok")
        assert code == 0, stderr
        password.write_text("wrong")
        code, wrong = report(url, mappings_file, tmp_path / "wrong")
    assert_day_matches_truth(tmp_path / "ok" / "out", cluster_truth)
    assert code == 3
    assert "HTTP 401" in wrong
    assert len(wrong.strip().splitlines()) == 1
    monkeypatch.setenv("KUBECHARGE_PROMETHEUS_BASIC_AUTH_PASSWORD_FILE", str(tmp_path / "missing"))
    code, missing = report("http://127.0.0.1:9", mappings_file, tmp_path / "missing-file")
    assert code == 2
    assert "basic-auth password file" in missing


def test_queries_too_large_for_the_sample_limit_are_split_in_time(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, cluster_truth: Truth
) -> None:
    """A backend that refuses, with Prometheus' own error, any range longer than 6 hours (what a day of a 5,000-pod
    cluster is to the default --query.max-samples; the real Prometheus behind it runs at its defaults): a day does
    not fit, its quarters do; the report is still the truth."""
    behaviour = Behaviour(max_range_hours=6)
    with standin(prometheus_url, behaviour) as url:
        result = run_cli("report", "--prometheus", url, "--mappings", str(mappings_file), "--period", DAY,
                         "--out", str(tmp_path / "out"), "--db", f"sqlite:///{tmp_path / 'k.db'}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert behaviour.refused >= 8  # every data question's day, then its halves
    assert "split in time" in result.stdout
    assert_day_matches_truth(tmp_path / "out", cluster_truth)
