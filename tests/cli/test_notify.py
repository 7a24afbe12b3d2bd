"""`kubecharge notify --dry-run`: what each team would be told, from the ledger the CLI filled from a real
Prometheus, judged against the synthetic cluster's truth; routing as the TeamMappings say; nothing sent, no
Secret needed; bad input is one line."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecharge import manifests
from kubecharge.notify import formats
from kubecharge.notify.messages import messages_of
from kubecharge.pipeline.ledger_view import Catalogue, open_portal_ledger, parse_period
from kubecharge.settings import Settings
from kubecharge.synthetic.model import Cluster, Truth
from tests.support.browser import chromium, layout_probe
from tests.support.reports import assert_one_line_failure, run_cli, run_in_process, truth_cost

START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, 23, tzinfo=UTC)  # the last complete hour
AS_OF = "2026-10-03T00:00Z"
CHANNELS = [
    {"name": "chat", "type": "slack", "urlSecretRef": {"name": "chat-url", "key": "url"}},
    {"name": "mail", "type": "email", "smtp": {"host": "smtp.example.com", "from": "costs@example.com",
                                               "to": ["finops@example.com"]}},
]  # fmt: skip
REPORT: dict[str, Any] = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
          "metadata": {"name": "monthly", "namespace": "finops"},
          "spec": {"period": "monthly", "notifications": {"channels": CHANNELS, "events": ["published"]}}}  # fmt: skip


@pytest.fixture(scope="module")
def ledger(prometheus_url: str, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("notify")
    mappings: list[dict[str, Any]] = copy.deepcopy(cluster.team_mappings)
    for mapping in mappings:
        if mapping["metadata"]["name"] == "payments":
            mapping["spec"]["notifications"] = {"email": ["payments-leads@example.com"]}
        if mapping["metadata"]["name"] == "identity":
            mapping["spec"]["notifications"] = {"mute": True}
    (work / "teams.yaml").write_text(yaml.safe_dump_all(mappings))
    (work / "report.yaml").write_text(yaml.safe_dump(REPORT))
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(work / "teams.yaml"), "--period", "2026-10",
        "--out", str(work / "out"), "--db", f"sqlite:///{work / 'ledger.db'}", "--cluster", "synthetic",
        "--report", str(work / "report.yaml"), "--as-of", AS_OF,
    )  # fmt: skip
    assert code == 0, output
    return {"work": work, "teams": work / "teams.yaml", "report": work / "report.yaml", "db": work / "ledger.db"}


def notify(ledger: dict[str, Path], *extra: str) -> list[str]:
    return ["notify", "--mappings", str(ledger["teams"]), "--report", str(ledger["report"]),
            "--db", f"sqlite:///{ledger['db']}", "--as-of", AS_OF, "--period", "2026-10", "--cluster", "synthetic",
            *extra]  # fmt: skip


def test_the_dry_run_shows_each_team_its_truth_on_each_channel_as_routed(
    ledger: dict[str, Path], cluster_truth: Truth
) -> None:
    code, output = run_in_process(*notify(ledger, "--dry-run", "--output", "json"))
    assert code == 0, output
    found = json.loads(output)
    band = cluster_truth.band_by_team(START, END)
    teams = {team for team, quantities in band.items() if any(high for _, high in quantities.values())}
    teams.discard("unallocated")
    told = teams - {"identity"}  # muted
    assert {(e["team"], e["channel"]) for e in found} == {(t, c) for t in told for c in ("chat", "mail")}
    for entry in found:
        assert entry["key"] == f"published/2026-10/provisional-2026-W40/{entry['team']}"
        if entry["channel"] == "mail":
            expected = ["payments-leads@example.com"] if entry["team"] == "payments" else ["finops@example.com"]
            assert entry["email"]["to"] == expected
            continue
        blocks = entry["payload"]["blocks"]
        cost = float(blocks[1]["fields"][0]["text"].split("\n")[1].split(" ")[0].replace(",", ""))
        low = truth_cost({q: lo for q, (lo, _) in band[entry["team"]].items()})
        high = truth_cost({q: hi for q, (_, hi) in band[entry["team"]].items()})
        assert low * 0.99 - 0.005 <= cost <= high * 1.01 + 0.005, (entry["team"], cost, low, high)
    # As people read it: a rule per team and channel, then the message.
    code, text = run_in_process(*notify(ledger, "--dry-run"))
    assert code == 0, text
    assert "payments · email channel mail to payments-leads@example.com" in text
    assert "Hours with data: 47 of 744, through 2026-10-02T23:00:00Z" in text
    assert "identity" not in text


def test_without_dry_run_or_with_bad_channels_it_says_what_to_do_in_one_line(
    ledger: dict[str, Path], tmp_path: Path
) -> None:
    assert_one_line_failure(run_cli(*notify(ledger)), 2, "sending is the operator's", "--dry-run")
    broken = copy.deepcopy(REPORT)
    broken["spec"]["notifications"]["channels"] = [{"name": "chat", "type": "slack"},
                                                   {"name": "chat", "type": "email"}]  # fmt: skip
    (tmp_path / "report.yaml").write_text(yaml.safe_dump(broken))
    args = notify(ledger, "--dry-run")
    args[args.index(str(ledger["report"]))] = str(tmp_path / "report.yaml")
    assert_one_line_failure(run_cli(*args), 2, "channels[0] (chat): a slack channel needs urlSecretRef",
                            "channels[1] (chat): another channel has this name",
                            "an email channel needs smtp")  # fmt: skip
    silent = copy.deepcopy(REPORT)
    del silent["spec"]["notifications"]
    (tmp_path / "silent.yaml").write_text(yaml.safe_dump(silent))
    args[args.index(str(tmp_path / "report.yaml"))] = str(tmp_path / "silent.yaml")
    assert_one_line_failure(run_cli(*args), 2, "has no spec.notifications")


@pytest.mark.parametrize("width", [360, 1400])
def test_the_email_reads_on_a_phone_and_a_desktop_in_chromium(
    ledger: dict[str, Path], width: int, tmp_path: Path
) -> None:
    """Every team's email as a mail client shows its HTML part: nothing wider than the screen, every figure there."""
    spec = manifests.load_usage_report(ledger["report"])
    catalogue = Catalogue({"finops/monthly": spec}, manifests.load_team_mappings(ledger["teams"]))
    moment = datetime(2026, 10, 3, 0, 10, tzinfo=UTC)
    view = open_portal_ledger(Settings(cluster_name="synthetic"), f"sqlite:///{ledger['db']}", lambda: catalogue,
                              clock=lambda: moment)  # fmt: skip
    assert spec.notifications is not None
    messages = messages_of(view.priced("finops/monthly", parse_period("2026-10")), spec.notifications, moment)
    assert len(messages) >= 6
    for message in messages:
        html = formats.email_message(message, "costs@example.com", ("lead@example.com",)).get_body(("html",))
        assert html is not None
        page = tmp_path / f"{message.team}.html"
        page.write_text(str(html.get_content()).replace("</body>", layout_probe(width) + "\n</body>"))
        dumped = chromium(f"--window-size={width},1000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
        found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
        assert found, dumped.stderr[-2000:]
        probe = json.loads(found[1].replace("&quot;", '"'))
        assert probe["wide"] == [], (message.team, probe["wide"][:10])
        assert f"{message.cost:,.2f} {message.currency}" in dumped.stdout
        for namespace, _ in message.top_namespaces:
            assert namespace in dumped.stdout
