"""The portal (`kubecharge serve`, a real uvicorn process) over a ledger the CLI filled from the real Prometheus,
its catalogue and its viewers' access answered by the Kubernetes emulator (TokenReview, SubjectAccessReview).

Truth: what each viewer may see is the table of rules the test writes; the numbers are `kubecharge report`'s
chargeback.csv rows of those teams (the same ledger, the same UsageReport), added up here by hand.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import yaml

from kubecharge.portal.access import OpenAccess
from kubecharge.portal.app import Portal as PortalApp
from kubecharge.portal.app import build_app
from kubecharge.portal.security import PortalMetrics
from kubecharge.synthetic.local_prometheus import free_port
from kubecharge.synthetic.model import Cluster
from tests.operator.emulator import running_emulator
from tests.operator.support import Kube
from tests.portal.reviewing import ReviewingEmulator
from tests.support.browser import DevToolsBrowser, chromium, layout_probe, pdf_pages
from tests.support.reports import read_csv, run_in_process

REPORT = {"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
          "metadata": {"name": "monthly", "namespace": "finops"},
          "spec": {"period": "monthly", "chargeBasis": "max", "finalizeAfter": "72h"}}  # fmt: skip
PAYMENTS, PLATFORM_WIDE, NOBODY, FORGED = "token-alice", "token-carol", "token-dave", "token-forged"
EXPIRED = "token-expired"  # the API server answers it as it answers an expired one: not authenticated
PERIOD = "2026-10"
DOWNLOADS = ("chargeback.csv", "chargeback-daily.csv", "chargeback-workloads.csv", "chargeback.json", "focus.csv")


@dataclass
class Portal:
    url: str
    emulator: ReviewingEmulator
    database: Path
    rows: list[dict[str, str]]  # the CLI's chargeback.csv: the truth the portal's numbers are held to

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=60, allow_redirects=False, **kwargs)

    def cost(self, teams: set[str] | None = None) -> float:
        return math.fsum(
            float(row["cost_total_allocated"]) for row in self.rows if teams is None or row["team"] in teams
        )


@pytest.fixture(scope="module")
def portal(prometheus_url: str, mappings_file: Path, cluster: Cluster,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:  # fmt: skip
    work = tmp_path_factory.mktemp("portal")
    database = work / "ledger.db"
    report = work / "report.yaml"
    report.write_text(yaml.safe_dump(REPORT))
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", "2026-10-01/2026-10-03",
        "--out", str(work / "out"), "--db", f"sqlite:///{database}", "--cluster", "synthetic", "--report", str(report),
    )  # fmt: skip
    assert code == 0, output
    with running_emulator(ReviewingEmulator) as (emulator, api):
        reviewing = cast(ReviewingEmulator, emulator)
        reviewing.tokens.update({PAYMENTS: ("alice", ("payments-leads",)), PLATFORM_WIDE: ("carol", ("finops",)),
                                 NOBODY: ("dave", ())})  # fmt: skip
        reviewing.rules.update({("group:payments-leads", "payments"), ("group:finops", None)})
        reviewing.expired.add(EXPIRED)
        kube = Kube(api, emulator)
        for mapping in cluster.team_mappings:
            kube.apply_mapping(mapping)
        kube.apply_report("finops", REPORT)
        port = free_port()
        env = {**os.environ, "KUBECHARGE_KUBE_API_URL": api, "KUBECHARGE_CLUSTER_NAME": "synthetic"}
        command = [sys.executable, "-m", "kubecharge", "serve", "--port", str(port), "--host", "127.0.0.1",
                   "--db", f"sqlite:///{database}"]  # fmt: skip
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert server.poll() is None, server.communicate()[0].decode()[-3000:]
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            yield Portal(url, reviewing, database, read_csv(work / "out" / "chargeback.csv"))
        finally:
            server.terminate()
            log = server.communicate(timeout=30)[0].decode()
            for token in (PAYMENTS, PLATFORM_WIDE, NOBODY, FORGED, EXPIRED):
                assert token not in log  # tokens never reach the log, even those given as ?token=


def routes(team: str) -> list[str]:
    """Every GET route of the portal, its parameters filled in (`team` for the team page)."""
    return ["/", f"/periods/{PERIOD}", f"/periods/{PERIOD}/teams/{team}",
            *(f"/periods/{PERIOD}/downloads/{name}" for name in DOWNLOADS),
            "/api/v1/periods", f"/api/v1/costs?period={PERIOD}&aggregate=team",
            f"/api/v1/costs?period={PERIOD}&aggregate=namespace&team={team}"]  # fmt: skip


PUBLIC = ["/healthz", "/readyz", "/metrics", "/static/portal.css", "/sign-in"]


def test_every_route_is_walked() -> None:
    """The walk below covers every route the application has (a new route must be added to it)."""
    app = build_app(PortalApp(cast(Any, None), OpenAccess(), PortalMetrics()))
    paths = {getattr(route, "path", "") for route in app.routes}
    walked = {re.sub(r"\?.*", "", path) for path in [*routes("payments"), *PUBLIC, "/sign-out"]}
    templated = {re.sub(r"\{[a-z]+\}", "X", path) for path in paths}
    assert templated == {re.sub(r"/periods/[^/]+", "/periods/X", re.sub(r"(teams|downloads)/[^/]+", r"\1/X", path))
                         for path in walked}  # fmt: skip


@pytest.mark.parametrize("token", [None, FORGED, EXPIRED])
def test_no_token_or_a_forged_one_is_401_everywhere(portal: Portal, token: str | None) -> None:
    for path in routes("payments"):
        answer = portal.get(path, token)
        assert answer.status_code == 401, (path, answer.status_code)
        if path.startswith("/api/"):
            assert answer.json()["status"] == 401
            assert answer.json()["message"]
        else:
            assert 'action="/sign-in"' in answer.text  # the page offers the sign-in form
    for path in PUBLIC:
        assert portal.get(path, token).status_code == 200, path


def test_a_payments_lead_sees_payments_only(portal: Portal) -> None:
    others = {row["namespace"] for row in portal.rows if row["team"] != "payments"}
    mine = {row["namespace"] for row in portal.rows if row["team"] == "payments"}
    assert mine
    assert others
    for path in routes("payments"):
        answer = portal.get(path, PAYMENTS)
        assert answer.status_code == 200, (path, answer.text[:300])
        text = re.sub(r"<[^>]+>", " ", answer.text)
        leaked = [ns for ns in others if re.search(rf"(?<![\w-]){re.escape(ns)}(?![\w-])", text)]
        assert not leaked, (path, leaked)
    for path in (f"/periods/{PERIOD}/teams/search", f"/api/v1/costs?period={PERIOD}&team=search",
                 f"/periods/{PERIOD}/teams/unallocated"):  # fmt: skip
        assert portal.get(path, PAYMENTS).status_code == 403, path
    costs = portal.get(f"/api/v1/costs?period={PERIOD}&aggregate=namespace", PAYMENTS).json()
    assert {row["team"] for row in costs["rows"]} == {"payments"}
    assert {row["namespace"] for row in costs["rows"]} == mine
    assert math.isclose(sum(row["cost_total_allocated"] for row in costs["rows"]), portal.cost({"payments"}),
                        rel_tol=1e-9)  # fmt: skip
    teams = portal.get(f"/api/v1/costs?period={PERIOD}&aggregate=team", PAYMENTS).json()["rows"]
    assert [row["team"] for row in teams] == ["payments"]
    page = portal.get(f"/periods/{PERIOD}", PAYMENTS).text
    assert f"Your teams&#39; cost<b>{portal.cost({'payments'}):,.2f} USD" in page  # never the cluster's total
    for name in ("chargeback.csv", "chargeback-daily.csv", "chargeback-workloads.csv", "focus.csv"):
        rows = list(csv.DictReader(io.StringIO(portal.get(f"/periods/{PERIOD}/downloads/{name}", PAYMENTS).text)))
        assert rows, name
        teams_seen = {row["SubAccountId"].split("/")[-1] if name == "focus.csv" else row["team"] for row in rows}
        assert teams_seen == {"payments"}, (name, teams_seen)
    summary = portal.get(f"/periods/{PERIOD}/downloads/chargeback.json", PAYMENTS).json()
    assert [team["team"] for team in summary["teams"]] == ["payments"]
    assert summary["clusterCost"] is None


def test_a_platform_wide_viewer_sees_every_team_and_the_cluster_total(portal: Portal) -> None:
    costs = portal.get(f"/api/v1/costs?period={PERIOD}&aggregate=team", PLATFORM_WIDE).json()
    assert {row["team"] for row in costs["rows"]} == {row["team"] for row in portal.rows}
    assert math.isclose(sum(row["cost_total_allocated"] for row in costs["rows"]), portal.cost(), rel_tol=1e-9)
    workloads = portal.get(f"/api/v1/costs?period={PERIOD}&aggregate=workload", PLATFORM_WIDE).json()
    assert math.isclose(sum(row["cost_total_allocated"] for row in workloads["rows"]), portal.cost(), rel_tol=1e-9)
    assert costs["state"] == "incomplete"
    assert costs["completeness"]["hoursCollected"] == 48
    page = portal.get(f"/periods/{PERIOD}", PLATFORM_WIDE).text
    assert f"Total cost<b>{portal.cost():,.2f} USD" in page
    # several TeamMappings feed team platform (`platform` and `apps`): its page lists both's namespaces
    platform = {row["namespace"] for row in portal.rows if row["team"] == "platform"}
    team_page = portal.get(f"/periods/{PERIOD}/teams/platform", PLATFORM_WIDE).text
    assert len(platform) > 1
    assert all(f"<b>{ns}</b>" in team_page for ns in platform)
    assert "CC-1000" in team_page
    assert "platform-lead@example.com" in team_page
    for path in routes("unallocated"):
        assert portal.get(path, PLATFORM_WIDE).status_code == 200, path


def test_a_viewer_without_rules_sees_no_team(portal: Portal) -> None:
    assert 'id="no-teams"' in portal.get("/", NOBODY).text
    assert portal.get(f"/api/v1/costs?period={PERIOD}", NOBODY).json()["rows"] == []
    assert portal.get(f"/periods/{PERIOD}/teams/payments", NOBODY).status_code == 403
    assert 'id="nothing"' in portal.get(f"/periods/{PERIOD}", NOBODY).text


def test_bad_parameters_are_400_with_a_message(portal: Portal) -> None:
    for path in (
        "/api/v1/costs?period=2026-13",
        f"/api/v1/costs?period={PERIOD}&aggregate=pod",
        "/api/v1/costs",
        f"/api/v1/costs?period={PERIOD}&sql=1",
        f"/api/v1/costs?period={PERIOD}&report=x",
    ):
        answer = portal.get(path, PLATFORM_WIDE)
        assert answer.status_code == 400, path
        assert answer.json()["status"] == 400
        assert answer.json()["message"]
    assert portal.get("/periods/not-a-period", PLATFORM_WIDE).status_code == 400
    assert portal.get(f"/periods/{PERIOD}/downloads/passwd", PLATFORM_WIDE).status_code == 404


def test_answers_carry_the_security_headers_and_metrics_count_them(portal: Portal) -> None:
    answer = portal.get(f"/periods/{PERIOD}", PLATFORM_WIDE)
    policy = answer.headers["content-security-policy"]
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert "<script" not in answer.text
    assert "style=" not in answer.text
    metrics = portal.get("/metrics").text
    assert re.search(r'kubecharge_portal_requests_total\{route="overview",status="200"\} [1-9]', metrics)
    assert 'kubecharge_portal_request_seconds_bucket{le="0.5",route="overview"}' in metrics


def test_signing_in_by_form_keeps_a_session_not_the_token(portal: Portal) -> None:
    session = requests.Session()
    refused = session.post(portal.url + "/sign-in", data={"token": PAYMENTS, "next": "/"}, timeout=60,
                           headers={"Origin": "https://elsewhere.example"}, allow_redirects=False)  # fmt: skip
    assert refused.status_code == 403  # a form posted from another site
    signed = session.post(portal.url + "/sign-in", data={"token": PAYMENTS, "next": "//evil.example/"}, timeout=60,
                          headers={"Origin": portal.url}, allow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=strict" in cookie
    value = re.match(r"kubecharge_session=([^;]+)", cookie)
    assert value
    download = requests.get(f"{portal.url}/periods/{PERIOD}/downloads/chargeback.csv", timeout=60,
                            cookies={"kubecharge_session": value[1]})  # fmt: skip
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert {row["team"] for row in csv.DictReader(io.StringIO(download.text))} == {"payments"}
    with sqlite3.connect(portal.database) as db:
        kept = db.execute("select * from portal_sessions").fetchall()
    assert kept
    assert all(PAYMENTS not in json.dumps(row) and value[1] not in json.dumps(row) for row in kept)


CHARTS = """axes: [...document.querySelectorAll("svg")].map(s => [s.id, s.querySelectorAll("text.axis").length,
                                                      s.querySelectorAll("rect").length])"""


@pytest.mark.parametrize("width", [1400, 360])
@pytest.mark.parametrize("page", [f"/periods/{PERIOD}", f"/periods/{PERIOD}/teams/payments"])
def test_pages_fit_the_screen_with_their_charts(portal: Portal, tmp_path: Path, page: str, width: int) -> None:
    """The page as served (its stylesheet beside it), laid out by Chromium: nothing wider than the viewport and
    every chart drawn with its axis labels."""
    css = tmp_path / "portal.css"
    css.write_text(portal.get("/static/portal.css").text)
    html = portal.get(page, PLATFORM_WIDE).text.replace('href="/static/portal.css"', f'href="{css.as_uri()}"')
    probed = tmp_path / "page.html"
    probed.write_text(html.replace("</body>", layout_probe(width, CHARTS) + "\n</body>"))
    dumped = chromium(f"--window-size={width},1000", "--virtual-time-budget=3000", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
    assert found, dumped.stderr[-2000:]
    probe = json.loads(found[1].replace("&quot;", '"'))
    assert probe["wide"] == [], probe["wide"][:10]
    charts = {name: (axes, rects) for name, axes, rects in probe["axes"] if name}
    wanted = {"team-chart", "trend-chart"} if page.endswith(PERIOD) else {"history-chart"}
    assert wanted <= set(charts), charts
    assert all(charts[name][0] >= 2 and charts[name][1] >= 1 for name in wanted), charts


def test_a_pasted_token_signs_the_browser_in(portal: Portal, tmp_path: Path) -> None:
    """Chromium opens a link with ?token= once; the portal keeps a session in its cookie and drops the token from
    the address; the next visit, in the same browser profile, needs no token."""
    profile = tmp_path / "profile"
    first = chromium(f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
                     f"{portal.url}/periods/{PERIOD}?token={PAYMENTS}")  # fmt: skip
    assert f"Costs {PERIOD}" in first.stdout, first.stdout[:2000]
    assert 'action="/sign-in"' not in first.stdout
    assert f"/periods/{PERIOD}/teams/payments" in first.stdout
    second = chromium(f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
                      f"{portal.url}/periods/{PERIOD}/teams/payments")  # fmt: skip
    assert "CC-1001" in second.stdout, second.stdout[:2000]
    stranger = chromium(f"--user-data-dir={tmp_path / 'other'}", "--virtual-time-budget=5000", "--dump-dom",
                        f"{portal.url}/periods/{PERIOD}/teams/payments")  # fmt: skip
    assert 'action="/sign-in"' in stranger.stdout


def test_a_team_page_prints_without_the_navigation(portal: Portal, tmp_path: Path) -> None:
    css = tmp_path / "portal.css"
    css.write_text(portal.get("/static/portal.css").text)
    page = tmp_path / "team.html"
    html = portal.get(f"/periods/{PERIOD}/teams/payments", PAYMENTS).text
    page.write_text(html.replace('href="/static/portal.css"', f'href="{css.as_uri()}"'))
    flat = " ".join(" ".join(pdf_pages(page, "A4", tmp_path)).split())
    assert f"Cost {PERIOD}" in flat  # the cards sit side by side: pdftotext interleaves their lines
    assert f"{portal.cost({'payments'}):,.2f} USD" in flat
    assert "Sign out" not in flat
    assert "chargeback.csv" not in flat  # downloads are for screens


def test_a_signed_in_browser_downloads_its_teams_csv(portal: Portal, tmp_path: Path) -> None:
    """In one running Chromium: a `?token=` link signs in (the session cookie, HttpOnly and Secure), then a click on
    a download saves the file as a person gets it — named for its period, holding the payments lines only."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with DevToolsBrowser(tmp_path / "profile", downloads) as browser:
        browser.open(f"{portal.url}/?token={PAYMENTS}")
        cookie = browser.cookie("kubecharge_session")
        assert cookie["httpOnly"]
        assert cookie["secure"]
        assert PAYMENTS not in cookie["value"]
        saved = browser.download(f"{portal.url}/periods/{PERIOD}/downloads/chargeback.csv")
    assert saved.name == f"{PERIOD}-chargeback.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert {row["team"] for row in rows} == {"payments"}
    assert math.isclose(math.fsum(float(row["cost_total_allocated"]) for row in rows), portal.cost({"payments"}),
                        rel_tol=1e-9)  # fmt: skip
