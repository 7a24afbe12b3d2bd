"""The portal's pages, server-rendered from `reports_templates/portal/` with the report's own context
(`render.documents.context`): the same numbers, charts and words as the HTML report, for one viewer's teams."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from kubecharge import __version__
from kubecharge.domain.charges import Chargeback
from kubecharge.packaged import templates_dir
from kubecharge.pipeline import views
from kubecharge.pipeline.ledger_view import PeriodState
from kubecharge.portal.access import Viewer

DOWNLOAD_NAMES = ("chargeback.csv", "chargeback-daily.csv", "chargeback-workloads.csv", "chargeback.json", "focus.csv")


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "portal")),
                      autoescape=select_autoescape(["html.j2"]), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)  # fmt: skip
    env.filters.update(views.NUMBER_FILTERS)
    return env


@cache
def stylesheet() -> bytes:
    return (templates_dir() / "portal" / "portal.css").read_bytes()


def _render(template: str, code: int = 200, **values: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(kubechargeVersion=__version__, **values)
    return HTMLResponse(html, status_code=code)


def _query(request: Request) -> str:
    """The report chosen, carried on every link (`?report=ns/name`), else nothing."""
    report = request.query_params.get("report")
    return f"?report={report}" if report else ""


def _viewer(viewer: Viewer) -> dict[str, Any]:
    return {"user": viewer.identity.user, "allTeams": viewer.all_teams}


def period_record(state: PeriodState) -> dict[str, Any]:
    """A period as the index and `/api/v1/periods` show it."""
    return {"name": state.period.name, "start": state.period.start.isoformat().replace("+00:00", "Z"),
            "end": state.period.end.isoformat().replace("+00:00", "Z"), "state": state.state,
            "stateLabel": state.state_label,
            "completeness": views.completeness_record(state.completeness)}  # fmt: skip


def index(request: Request, viewer: Viewer, report: str, periods: list[PeriodState], teams: list[str],
          reports: list[str]) -> HTMLResponse:  # fmt: skip
    return _render("index.html.j2", viewer=_viewer(viewer), report=report, reports=reports, query=_query(request),
                   periods=[period_record(state) for state in periods], teams=teams,
                   latest=periods[0].period.name if periods else None)  # fmt: skip


def _seen(report: Chargeback) -> dict[str, Any]:
    """The report's context, or the little there is to say when the viewer may see no line of it."""
    if report.lines:
        return views.context(report)
    return {"teams": [], "lines": [], "budgets": [], "anomalies": [], "forecast": None,
            "completeness": views.completeness_record(report.completeness)}  # fmt: skip


def overview(request: Request, viewer: Viewer, report: str, seen: Chargeback) -> HTMLResponse:
    return _render("period.html.j2", viewer=_viewer(viewer), report=report, query=_query(request),
                   period=seen.period_name, state=seen.state_class, stateLabel=seen.state_label,
                   currency=seen.currency, total=seen.total_allocated, downloads=DOWNLOAD_NAMES,
                   clusterShown=viewer.all_teams, data=_seen(seen))  # fmt: skip


def team(request: Request, viewer: Viewer, report: str, seen: Chargeback, name: str,
         history: list[tuple[str, float]]) -> HTMLResponse:  # fmt: skip
    data = _seen(seen)
    found = next((item for item in data["teams"] if item["team"] == name), None)
    info = seen.teams_info.get(name)
    return _render("team.html.j2", viewer=_viewer(viewer), report=report, query=_query(request),
                   period=seen.period_name, state=seen.state_class, stateLabel=seen.state_label,
                   currency=seen.currency, team=name, found=found, completeness=data["completeness"],
                   displayName=info.display_name if info else None, costCenter=info.cost_center if info else None,
                   owners=list(info.owners) if info else [], history=history_chart(history),
                   downloads=DOWNLOAD_NAMES)  # fmt: skip


def history_chart(history: list[tuple[str, float]], width: float = 1000, height: float = 260) -> dict[str, Any]:
    """Columns of a team's cost over its last periods, with a cost axis and period labels."""
    ticks = views.nice_ticks(max((cost for _, cost in history), default=0.0))
    left, bottom, top = 80.0, 30.0, 10.0
    scale = (height - bottom - top) / ticks[-1]
    slot = (width - left - 10) / max(len(history), 1)
    columns = [{"x": left + index * slot + slot * 0.2, "width": slot * 0.6, "y": height - bottom - cost * scale,
                "height": cost * scale, "period": name, "cost": cost}
               for index, (name, cost) in enumerate(history)]  # fmt: skip
    return {"width": width, "height": height, "left": left, "baseline": height - bottom, "columns": columns,
            "ticks": [{"y": height - bottom - value * scale, "value": value} for value in ticks]}  # fmt: skip


def sign_in(request: Request, target: str, problem: str | None, status: int = 200) -> HTMLResponse:
    return _render("sign_in.html.j2", status, target=target, problem=problem)


def refusal(request: Request, status: int, message: str) -> HTMLResponse:
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return sign_in(request, target, message, 401)
    return _render("refusal.html.j2", status, status=status, message=message)
