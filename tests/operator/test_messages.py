"""Showback messages through real operator replicas (processes, on PostgreSQL) against the emulator, a real
Prometheus, a real HTTP receiver and a real SMTP server (aiosmtpd, STARTTLS and AUTH required).

A daily report at 2026-10-02T12:00Z: 2026-10-01 is final, 2026-10-02 provisional. Each team gets one message per
period version on each channel (Slack, Teams, a signed webhook, email), the figures in them agree with the
synthetic cluster's truth, and reruns, a restart and a second replica send none twice. A 500 is retried once; a
team's failing endpoint shows in status and metrics and does not fail the report."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy

from kubecharge.store import schema
from kubecharge.synthetic.model import Cluster, Truth
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube, Replica, status_of, wait_for
from tests.support.postgres import fresh_database
from tests.support.receivers import MailReceiver, WebhookReceiver
from tests.support.reports import truth_cost

NOW = datetime(2026, 10, 2, 12, tzinfo=UTC)
FINAL, PROVISIONAL = "2026-10-01", "2026-10-02"
# The final is told as the export version that holds it; the provisional once in NOW's ISO week (40).
VERSIONS = {FINAL: "v1-final", PROVISIONAL: "provisional-2026-W40"}
REPORTS_NS = "finops"
SIGNING_KEY = "hmac-signing-key"
USED = 0.8  # of its daily budget share, payments spent this much on 2026-10-01
MUTED = "identity"
CHANNEL_PATHS = {"slack": "/slack", "teams": "/teams", "hooks": "/hooks"}


def secret(kube: Kube, name: str, data: dict[str, str]) -> None:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    kube.core.create_namespaced_secret(REPORTS_NS, {"metadata": {"name": name}, "data": encoded})


def cost_band(band: dict[str, tuple[float, float]]) -> tuple[float, float]:
    return truth_cost({q: low for q, (low, _) in band.items()}), truth_cost({q: high for q, (_, high) in band.items()})


def within(value: float, band: tuple[float, float]) -> bool:
    return band[0] * 0.99 - 1e-6 <= value <= band[1] * 1.01 + 1e-6


@pytest.fixture(scope="module")
def payments_day_cost(cluster_truth: Truth) -> float:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    low, high = cost_band(cluster_truth.band_by_team(start, start + timedelta(days=1))["payments"])
    return (low + high) / 2


@pytest.fixture(scope="module")
def setup(cluster: Cluster, prometheus_url: str, postgres_server: str, payments_day_cost: float,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:  # fmt: skip
    work = tmp_path_factory.mktemp("messages")
    database_url = fresh_database(postgres_server)
    schema.upgrade(database_url)
    hooks, mail = WebhookReceiver(), MailReceiver()
    hooks.script["/slack"] = [500]  # the first Slack post fails once, then works: retried once
    hooks.always["/broken"] = 503  # search's own webhook endpoint is down
    with running_emulator() as (_, url), hooks.running(), mail.running():
        kube = Kube(url)
        for namespace in cluster.namespaces:
            kube.namespace(namespace.name, namespace.labels_at(cluster.slots - 1))
        kube.namespace(REPORTS_NS, {})
        for name, path in (*CHANNEL_PATHS.items(), ("payments-slack", "/slack-payments"), ("search-hooks", "/broken")):
            secret(kube, f"{name}-url", {"url": hooks.url(path)})
        secret(kube, "hooks-signing", {"key": SIGNING_KEY})
        secret(kube, "smtp-login", {"username": mail.username, "password": mail.password})
        secret(kube, "smtp-ca", {"ca.crt": mail.ca_pem})
        for mapping in copy.deepcopy(cluster.team_mappings):
            spec: dict[str, Any] = mapping["spec"]  # type: ignore[assignment]
            own = {"namespace": REPORTS_NS, "key": "url"}
            if mapping["metadata"]["name"] == "payments":  # type: ignore[index]
                spec["budget"] = {"monthly": round(payments_day_cost / USED * 31, 6), "currency": "USD"}
                spec["notifications"] = {"email": ["payments-leads@example.com"], "webhooks": [
                    {"channel": "slack", "urlSecretRef": {**own, "name": "payments-slack-url"}}]}  # fmt: skip
            if mapping["metadata"]["name"] == "search":  # type: ignore[index]
                spec["notifications"] = {"webhooks": [
                    {"channel": "hooks", "urlSecretRef": {**own, "name": "search-hooks-url"}}]}  # fmt: skip
            if mapping["metadata"]["name"] == MUTED:  # type: ignore[index]
                spec["notifications"] = {"mute": True}
            kube.apply_mapping(mapping)
        channels = [
            {"name": name, "type": "webhook" if name == "hooks" else name,
             "urlSecretRef": {"name": f"{name}-url", "key": "url"}} for name in CHANNEL_PATHS
        ]  # fmt: skip
        channels[2]["signingSecretRef"] = {"name": "hooks-signing", "key": "key"}
        smtp = {
            "host": "127.0.0.1",
            "port": mail.port,
            "from": "kubecharge@example.com",
            "to": ["finops@example.com"],
            "credentialsSecretRef": {"name": "smtp-login"},
            "caSecretRef": {"name": "smtp-ca", "key": "ca.crt"},
        }
        channels.append({"name": "mail", "type": "email", "smtp": smtp})
        kube.apply_report(REPORTS_NS, {
            "apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
            "metadata": {"name": "daily", "namespace": REPORTS_NS},
            "spec": {"period": "daily", "finalizeAfter": "1h",
                     "notifications": {"link": "https://costs.example.com", "channels": channels}},
        })  # fmt: skip
        kube.apply_report(REPORTS_NS, {  # its channel's Secret does not exist: said in status, the report stands
            "apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
            "metadata": {"name": "unsent", "namespace": REPORTS_NS},
            "spec": {"period": "daily", "finalizeAfter": "1h", "notifications": {"channels": [
                {"name": "slack", "type": "slack", "urlSecretRef": {"name": "missing", "key": "url"}}]}},
        })  # fmt: skip
        environment = {
            "KUBECHARGE_KUBE_API_URL": url, "KUBECHARGE_PROMETHEUS_URL": prometheus_url,
            "KUBECHARGE_DATABASE_URL": database_url, "KUBECHARGE_CLUSTER_NAME": "synthetic",
            "KUBECHARGE_REPORT_INTERVAL_SECONDS": "2", "KUBECHARGE_MAPPING_INTERVAL_SECONDS": "1",
            "KUBECHARGE_RETRY_DELAY_SECONDS": "1", "KUBECHARGE_RETRY_MAX_DELAY_SECONDS": "2",
            "KUBECHARGE_STANDALONE": "true", "KUBECHARGE_RUN_LEASE_SECONDS": "8",
            "KUBECHARGE_DEFAULT_OBJECT_STORAGE_URL": f"file://{work / 'exports'}",
        }  # fmt: skip
        yield {"kube": kube, "hooks": hooks, "mail": mail, "environment": environment, "work": work}


def succeeded_runs(database_url: str) -> int:
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(sqlalchemy.text("SELECT count(*) FROM report_runs WHERE result = 'succeeded'"))
        count = int(found.scalar_one())
    engine.dispose()
    return count


def more_runs(database_url: str, count: int) -> None:
    before = succeeded_runs(database_url)
    wait_for(lambda: succeeded_runs(database_url) >= before + count, what=f"{count} more report runs")


def budget_keys(database_url: str) -> set[str]:
    """The budget notices the operator raised as Events (the ledger's `notices`), for the messages to match."""
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT key FROM notices WHERE key LIKE 'Budget%'")).all()
    engine.dispose()
    return {str(row[0]) for row in rows}


def keys_of(received: list[Any]) -> Counter[str]:
    return Counter(r.headers["X-Kubecharge-Key"] for r in received)


def delivered(hooks: WebhookReceiver, mail: MailReceiver) -> dict[str, Counter[str]]:
    """Per channel (and per team's own endpoint), the keys delivered (answered 2xx / accepted)."""
    found = {path: keys_of(hooks.answered(path)) for path in ("/slack", "/slack-payments", "/teams", "/hooks")}
    found["mail"] = Counter(m.message["X-Kubecharge-Key"] for m in mail.snapshot())
    return found


def metric(port: int, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_each_team_gets_each_message_once_with_its_truth_through_reruns_a_restart_and_two_replicas(
    setup: dict[str, Any], cluster: Cluster, cluster_truth: Truth,
) -> None:  # fmt: skip
    kube: Kube = setup["kube"]
    hooks: WebhookReceiver = setup["hooks"]
    mail: MailReceiver = setup["mail"]
    environment, work = setup["environment"], setup["work"]
    database_url = environment["KUBECHARGE_DATABASE_URL"]
    day = {FINAL: datetime(2026, 10, 1, tzinfo=UTC), PROVISIONAL: datetime(2026, 10, 2, tzinfo=UTC)}
    ends = {FINAL: day[PROVISIONAL], PROVISIONAL: NOW}
    teams_of = {period: {team for team, band in cluster_truth.band_by_team(day[period], ends[period]).items()
                         if cost_band(band)[1] > 0 and team != "unallocated"} for period in day}  # fmt: skip
    published = {f"published/{p}/{VERSIONS[p]}/{team}" for p, teams in teams_of.items() for team in teams}
    told = {key for key in published if not key.endswith(f"/{MUTED}")}

    first = Replica("kubecharge-a", environment, work / "a.log", NOW)
    try:
        status = status_of(kube, REPORTS_NS, "daily", "Provisional")
        budgets = budget_keys(database_url)
        assert {f"BudgetThresholdReached/{FINAL}/payments/{t}" for t in (50, 75)} <= budgets
        expected = told | budgets
        payments_only = {key for key in expected if key.endswith("/payments") or "/payments/" in key}

        def all_delivered() -> dict[str, Counter[str]] | None:
            found = delivered(hooks, mail)
            slack = set(found["/slack"]) | set(found["/slack-payments"])
            hooks_keys = set(found["/hooks"]) | {r.headers["X-Kubecharge-Key"] for r in hooks.on("/broken")}
            done = slack == set(found["/teams"]) == hooks_keys == set(found["mail"]) == expected
            return found if done else None

        found = wait_for(all_delivered, what="every team's messages on every channel")
        status = status_of(kube, REPORTS_NS, "daily", "Provisional")
        more_runs(database_url, 2)
        assert delivered(hooks, mail) == found  # reruns sent nothing again
        # The self-metrics count what this replica sent and what failed.
        assert metric(first.metrics_port, "kubecharge_messages_total", channel="teams", outcome="sent") == len(expected)
        assert metric(first.metrics_port, "kubecharge_messages_total", channel="hooks", outcome="failed") >= 1
        assert metric(first.metrics_port, "kubecharge_messages_failing", channel="hooks") == len(
            [key for key in expected if "search" in key])  # fmt: skip
    finally:
        first.stop()

    # A restart and a second replica beside it, on the same ledger: both run the report, neither sends again.
    again = Replica("kubecharge-a", environment, work / "a2.log", NOW)
    second = Replica("kubecharge-b", environment, work / "b.log", NOW)
    try:
        more_runs(database_url, 4)
    finally:
        again.stop()
        second.stop()
    assert delivered(hooks, mail) == found
    assert all(count == 1 for counts in found.values() for count in counts.values()), found

    # Routing: payments' Slack went to its own channel and its email to its own address; the muted team got none.
    assert set(found["/slack-payments"]) == payments_only
    assert not set(found["/slack"]) & payments_only
    assert not any(MUTED in key for counts in found.values() for key in counts)
    for message in mail.snapshot():
        assert message.over_tls
        assert message.login == mail.username
        team_of = message.message["X-Kubecharge-Key"]
        payments = team_of in payments_only
        assert message.recipients == (("payments-leads@example.com",) if payments else ("finops@example.com",))

    # A 500 is retried once: the first Slack post, answered 500 then 200, carried the same message.
    first_two = hooks.on("/slack")[:2] if hooks.on("/slack")[0].status == 500 else []
    if not first_two:
        first_two = hooks.on("/slack-payments")[:2]
    assert [r.status for r in first_two] == [500, 200]
    assert first_two[0].body == first_two[1].body
    slack_posts = len(hooks.on("/slack")) + len(hooks.on("/slack-payments"))
    assert slack_posts == len(found["/slack"]) + len(found["/slack-payments"]) + 1

    # The webhook is signed with the shared key (and would not verify under another).
    for received in hooks.on("/hooks"):
        expected_signature = "sha256=" + hmac.new(SIGNING_KEY.encode(), received.body, hashlib.sha256).hexdigest()
        assert received.headers["X-Kubecharge-Signature"] == expected_signature
        wrong = "sha256=" + hmac.new(b"another-key", received.body, hashlib.sha256).hexdigest()
        assert received.headers["X-Kubecharge-Signature"] != wrong

    # The figures agree with the truth: each team's cost, its top namespaces, the day before, the budget used.
    bodies = {json.loads(r.body)["key"]: json.loads(r.body) for r in hooks.answered("/hooks")}
    through = {body["period"]: datetime.fromisoformat(body["dataThrough"]) for body in bodies.values()}
    assert through == {FINAL: day[PROVISIONAL], PROVISIONAL: NOW - timedelta(hours=1)}  # the last complete hour
    namespace_band = {p: cluster_truth.band_by_namespace(day[p], through[p]) for p in day}
    team_band = {p: cluster_truth.band_by_team(day[p], through[p]) for p in day}
    for key, body in bodies.items():
        period = body["period"]
        assert within(body["cost"], cost_band(team_band[period][body["team"]])), (key, body["cost"])
        for top in body["topNamespaces"]:
            assert within(top["cost"], cost_band(namespace_band[period][top["namespace"]])), (key, top)
        assert body["link"] == f"https://costs.example.com/periods/{period}/teams/{body['team']}"
        if period == PROVISIONAL and key.startswith("published/"):
            assert body["previousPeriod"]["name"] == FINAL
            assert within(body["previousPeriod"]["cost"], cost_band(team_band[FINAL][body["team"]]))
    payments_final = bodies[f"published/{FINAL}/v1-final/payments"]
    assert payments_final["budgetUsedRatio"] == pytest.approx(USED, rel=0.02)
    assert payments_final["state"] == "final"
    threshold = bodies[f"BudgetThresholdReached/{FINAL}/payments/75"]
    assert threshold["event"] == "budget"
    assert "past the 75% threshold" in threshold["notice"]

    # The failing endpoint shows in status; the report itself succeeded.
    status = kube.report(REPORTS_NS, "daily")["status"]
    assert status["phase"] == "Provisional"
    told_status = status["notifications"]
    assert told_status["sent"] == sum(len(counts) for counts in found.values())
    assert told_status["failing"] == len([key for key in expected if "search" in key]) > 0
    assert {f["channel"] for f in told_status["failures"]} == {"hooks"}
    assert all(f["problem"] == "127.0.0.1 answered 503 after 3 attempt(s)" for f in told_status["failures"])
    assert all(f["team"] == "search" for f in told_status["failures"])
    assert len(hooks.on("/broken")) >= 3 * told_status["failing"]  # each tried three times with backoff
    unsent = kube.report(REPORTS_NS, "unsent")["status"]
    assert unsent["phase"] == "Provisional"
    assert "cannot read Secret finops/missing for notification channel slack (404" in unsent["notifications"]["problem"]
    assert SIGNING_KEY not in json.dumps(status)
    assert mail.password not in json.dumps(status)
    for log in ("a.log", "a2.log", "b.log"):
        text = (work / log).read_text()
        assert mail.password not in text
        assert hooks.url("/slack") not in text
        assert SIGNING_KEY not in text
