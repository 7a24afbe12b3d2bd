"""What each team is told, worked out by hand from a small chargeback: who gets a message, the figures in it, its
key, and each channel's shape (Slack's Block Kit checked against a schema of Slack's documented limits)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from kubecharge.domain.anomalies import Anomaly
from kubecharge.domain.charges import Chargeback, ChargeLine, Costs, PreviousPeriod, TeamInfo
from kubecharge.domain.forecast import Forecast
from kubecharge.domain.notifications import Channel, ChannelKind, MessageEvent, Notifications, ProvisionalSchedule
from kubecharge.domain.outlook_model import BudgetUse, Outlook
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities
from kubecharge.notify import formats
from kubecharge.notify.messages import TeamMessage, messages_of, published_version

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 15, 9, tzinfo=UTC)  # a Thursday in ISO week 42
SCHEMA = json.loads((Path(__file__).parents[2] / "support" / "slack_block_kit.schema.json").read_text())
SETTINGS = Notifications(channels=(Channel("slack", ChannelKind.SLACK),), link="https://costs.example.com/")


def line(team: str, namespace: str, cpu: float, memory: float, *workloads: tuple[str, float]) -> ChargeLine:
    return ChargeLine(team, namespace, ResourceQuantities(), 0.0, 0.0, Costs(cpu=cpu, memory=memory),
                      workloads=tuple(ChargeLine(team, namespace, ResourceQuantities(), 0.0, 0.0, Costs(cpu=cost),
                                                 workload_kind="Deployment", workload=name)
                                      for name, cost in workloads))  # fmt: skip


def chargeback(state: str = "provisional", version: str | None = None) -> Chargeback:
    lines = (
        line("payments", "payments-api", 300.0, 100.0, ("checkout", 250.0), ("refunds", 150.0)),
        line("payments", "payments-db", 50.0, 30.0, ("postgres", 80.0)),
        line("payments", "payments-batch", 10.0, 5.0),
        line("payments", "payments-<jobs>", 1.0, 0.5),
        line("search", "search", 200.0, 0.0, ("indexer", 200.0)),
        line("unallocated", "kube-system", 20.0, 0.0),
    )
    teams = {"payments": TeamInfo("payments", "Payments & Billing", "CC-100", ("lead@example.com",), 1000.0, "USD"),
             "search": TeamInfo("search"), "unallocated": TeamInfo("unallocated")}  # fmt: skip
    outlook = Outlook(
        NOW, forecasts={"payments": Forecast(1100.0, 1000.0, 1200.0, 496.5, 28, "trend and weekday")},
        budgets=(BudgetUse("payments", 1000.0, 1000.0, "USD", 496.5, 1100.0),),
        anomalies=(Anomaly("east", "search", "search", date(2026, 10, 14), 90.0, 20.0, 5.0, 35.0),),
    )  # fmt: skip
    before = PreviousPeriod("2026-09", 900.0, {"payments": 400.0, "search": 250.0})
    return Chargeback("2026-10", OCTOBER, OCTOBER + timedelta(days=31), "east", ChargeBasis.MAX, "USD", {}, lines,
                      teams, state=state, version=version, outlook=outlook, previous_period=before)  # fmt: skip


def test_each_team_gets_its_own_figures_worked_out_by_hand() -> None:
    found = {m.key: m for m in messages_of(chargeback(), SETTINGS, NOW)}
    # Unallocated cost is nobody's message; the anomaly is search's, the forecast overrun payments'.
    assert sorted(found) == [
        "BudgetForecastExceeded/2026-10/payments",
        "CostAnomaly/east/search/search/2026-10-14",
        "published/2026-10/provisional-2026-W42/payments",
        "published/2026-10/provisional-2026-W42/search",
    ]
    payments = found["published/2026-10/provisional-2026-W42/payments"]
    assert payments.cost == pytest.approx(496.5)  # 400 + 80 + 15 + 1.5
    assert payments.cost_by_resource == (("CPU", 361.0), ("Memory", 135.5))
    assert payments.change_ratio == pytest.approx(496.5 / 400.0 - 1)
    assert payments.top_namespaces == (("payments-api", 400.0), ("payments-db", 80.0), ("payments-batch", 15.0))
    assert payments.top_workloads == (("Deployment payments-api/checkout", 250.0),
                                      ("Deployment payments-api/refunds", 150.0),
                                      ("Deployment payments-db/postgres", 80.0))  # fmt: skip
    assert (payments.budget, payments.budget_used_ratio, payments.forecast) == (1000.0, 0.4965, 1100.0)
    assert payments.forecast_budget_ratio == pytest.approx(1.1)
    assert payments.link == "https://costs.example.com/periods/2026-10/teams/payments"
    assert payments.title == "Payments & Billing: 2026-10 provisional, 496.50 USD"
    assert payments.cost_center == "CC-100"
    forecast = found["BudgetForecastExceeded/2026-10/payments"]
    assert forecast.event is MessageEvent.BUDGET
    assert forecast.notice is not None
    assert "forecast to spend 1,100.00 USD" in forecast.notice
    anomaly = found["CostAnomaly/east/search/search/2026-10-14"]
    assert anomaly.event is MessageEvent.ANOMALY
    assert anomaly.title == "Cost anomaly: search, 2026-10"
    assert anomaly.cost == 200.0
    # A message kept in the ledger comes back the same.
    assert TeamMessage.from_json(payments.to_json()) == payments


def test_versions_finals_once_provisionals_on_their_schedule_and_events_as_asked() -> None:
    final = chargeback("final", "v2-final")
    assert published_version(final, ProvisionalSchedule.NEVER, NOW) == "v2-final"
    assert published_version(chargeback("final"), ProvisionalSchedule.WEEKLY, NOW) == "final"
    assert published_version(chargeback(), ProvisionalSchedule.DAILY, NOW) == "provisional-2026-10-15"
    assert published_version(chargeback(), ProvisionalSchedule.NEVER, NOW) is None
    only_published = Notifications(SETTINGS.channels, events=frozenset({MessageEvent.PUBLISHED}))
    assert [m.key for m in messages_of(final, only_published, NOW)] == [
        "published/2026-10/v2-final/payments", "published/2026-10/v2-final/search"]  # fmt: skip
    never = Notifications(SETTINGS.channels, provisional=ProvisionalSchedule.NEVER,
                          events=frozenset({MessageEvent.PUBLISHED}))  # fmt: skip
    assert messages_of(chargeback(), never, NOW) == []


def test_slack_blocks_fit_slacks_schema_even_with_long_names_and_escape_its_control_characters() -> None:
    messages = messages_of(chargeback(), SETTINGS, NOW)
    long = TeamMessage(**{**messages[0].__dict__, "title": "x" * 400, "notice": "<!channel> & " + "y" * 5000,
                          "top_namespaces": tuple((f"ns-{i}-" + "z" * 900, 1.0) for i in range(3))})  # fmt: skip
    for message in (*messages, long):
        payload = formats.slack_payload(message)
        jsonschema.validate(payload, SCHEMA)
    payments = formats.slack_payload(next(m for m in messages if m.key.endswith("provisional-2026-W42/payments")))
    text = json.dumps(payments)
    assert "Payments &amp; Billing" in text  # mrkdwn: &, < and > escaped in text Slack would parse
    assert "payments-&lt;jobs&gt;" not in text  # fourth namespace: not among the top three
    assert "<https://costs.example.com/periods/2026-10/teams/payments|Open the details>" in text
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in payments["blocks"][1]["fields"]}
    assert fields["*Against 2026-09*"] == "+24.1% (then 400.00)"
    assert fields["*Budget*"] == "49.6% used of 1,000.00 USD"
    assert fields["*Forecast*"] == "1,100.00 USD (110.0% of budget)"
    # A schema that refuses what Slack refuses: a header over 150 characters fails it.
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"text": "t", "blocks": [header]}, SCHEMA)


def test_teams_card_webhook_json_and_email_carry_the_same_figures() -> None:
    message = next(m for m in messages_of(chargeback(), SETTINGS, NOW) if m.key.endswith("W42/payments"))
    card = formats.teams_payload(message)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][1]["facts"]}
    assert facts["Cost"] == "496.50 USD (provisional, provisional-2026-W42)"
    assert card["content"]["actions"][0]["url"] == message.link
    body = formats.webhook_payload("finops/monthly", message)
    assert body["schema"] == "kubecharge.io/showback/v1"
    assert (body["cost"], body["previousPeriod"], body["costCenter"]) == (496.5, {"name": "2026-09", "cost": 400.0},
                                                                           "CC-100")  # fmt: skip
    assert body["topWorkloads"][0] == {"workload": "Deployment payments-api/checkout", "cost": 250.0}
    email = formats.email_message(message, "kubecharge@example.com", ("lead@example.com",))
    assert email["Subject"] == message.title
    assert email["X-Kubecharge-Key"] == message.key
    text = formats.email_text(message)
    assert "Cost: 496.50 USD" in text
    assert "Budget: 49.6% used of 1,000.00 USD" in text
    assert "  - payments-api: 400.00 USD" in text
    html = email.get_body(("html",))
    assert html is not None
    assert "Payments &amp; Billing" in html.get_content()  # escaped in HTML
