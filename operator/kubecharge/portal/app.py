"""The portal's routes: pages, downloads and the JSON API, each answered for one viewer.

Who is asking: a bearer token (`Authorization: Bearer`, what an authenticating proxy forwards), else the session
cookie a sign-in left (a pasted `kubectl create token` output, by the form or once as `?token=`). Nothing is
answered before the viewer is known: no credentials → 401, a team they may not see → 403, and a team they may not
see is in no list, total, chart or download they get. Only signing in and out write (a session row).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from kubecharge.domain.charges import Chargeback
from kubecharge.domain.periods import Period
from kubecharge.errors import InputError, KubechargeError
from kubecharge.pipeline import views
from kubecharge.pipeline.ledger_view import PeriodState, PortalLedger, parse_period
from kubecharge.portal import pages
from kubecharge.portal.access import AccessUnavailable, Identity, OpenAccess, Reviewer, Viewer, viewer_of
from kubecharge.portal.costs import AGGREGATES, cost_rows
from kubecharge.portal.security import Guarded, PortalMetrics
from kubecharge.portal.visible import visible_to

log = logging.getLogger("kubecharge.portal")

COOKIE = "kubecharge_session"
HISTORY_PERIODS = 6  # a team page's trend: its last six periods
SESSION_SECONDS = 3600  # as long as `kubectl create token`'s default token: sign in again with a fresh one
DOWNLOADS: dict[str, tuple[str, Callable[[Chargeback], bytes]]] = {
    "chargeback.csv": ("text/csv", views.chargeback_csv),
    "chargeback-daily.csv": ("text/csv", views.daily_csv),
    "chargeback-workloads.csv": ("text/csv", views.workloads_csv),
    "chargeback.json": ("application/json", views.chargeback_json),
    "focus.csv": ("text/csv", views.focus_csv),
}


class Refused(Exception):
    """An answer other than the page: `status` and what to tell the viewer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Portal:
    ledger: PortalLedger
    reviewer: Reviewer
    metrics: PortalMetrics

    # who is asking -------------------------------------------------------------------------------------------
    def identity(self, request: Request) -> Identity:
        if isinstance(self.reviewer, OpenAccess):
            return Identity("anonymous")
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Refused(401, "the Authorization header must be 'Bearer <token>'")
            return self._authenticated(token.strip())
        session = request.cookies.get(COOKIE)
        if session:
            kept = self.ledger.session(_digest(session))
            if kept is not None:
                user, groups, uid = kept
                return Identity(user, groups, uid)
        raise Refused(401, "sign in: paste a token (kubectl create token …) or send Authorization: Bearer <token>")

    def _authenticated(self, token: str) -> Identity:
        try:
            who = self.reviewer.authenticate(token)
        except AccessUnavailable as error:
            raise Refused(503, f"{error}; try again shortly") from None
        if who is None:
            raise Refused(401, "the token was not accepted (expired, revoked or not for this cluster): get a new one")
        return who

    def viewer(self, request: Request) -> Viewer:
        who = self.identity(request)
        try:
            return viewer_of(self.reviewer, who, self.ledger.catalogue().teams)
        except AccessUnavailable as error:
            raise Refused(503, f"{error}; try again shortly") from None

    # what is asked --------------------------------------------------------------------------------------------
    def report_key(self, request: Request) -> str | None:
        key = request.query_params.get("report")
        if key is not None and (key.count("/") != 1 or len(key) > 507):
            raise Refused(400, "report must be <namespace>/<name>")
        return key

    def periods(self, request: Request) -> tuple[str, list[PeriodState]]:
        """The report asked for (its `namespace/name`) and its periods, newest first."""
        key = self.report_key(request)
        try:
            name, _ = self.ledger.report(key)
            return name, self.ledger.periods(key)
        except InputError as error:
            raise Refused(404, str(error)) from None

    def period(self, text: str) -> Period:
        try:
            return parse_period(text)
        except InputError as error:
            raise Refused(400, f"{error} (e.g. 2026-10)") from None

    def seen(self, request: Request, period: Period, viewer: Viewer) -> tuple[str, Chargeback]:
        key = self.report_key(request)
        try:
            name, _ = self.ledger.report(key)
            return name, visible_to(self.ledger.priced(key, period), viewer)
        except InputError as error:
            raise Refused(404, str(error)) from None

    def team(self, viewer: Viewer, team: str) -> str:
        if len(team) > 253 or not viewer.sees(team):
            raise Refused(403, f"you may not see team {team}'s costs (ask for get on teammappings/costs {team})")
        return team


def build_app(portal: Portal) -> Starlette:
    """The ASGI application."""

    def page(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def answered(request: Request) -> Response:
            try:
                token = request.query_params.get("token")
                if token is not None:
                    return _signed_in(portal, request, token.strip(), _without_token(request))
                return handler(request)
            except Refused as refused:
                return pages.refusal(request, refused.status, refused.message)
            except KubechargeError as error:
                return pages.refusal(request, 503, f"{error}; try again shortly")

        answered.__name__ = handler.__name__
        return answered

    def api(handler: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Response]:
        def answered(request: Request) -> Response:
            try:
                return JSONResponse(handler(request))
            except Refused as refused:
                return JSONResponse({"status": refused.status, "message": refused.message}, refused.status)
            except KubechargeError as error:
                return JSONResponse({"status": 503, "message": f"{error}; try again shortly"}, 503)

        answered.__name__ = handler.__name__
        return answered

    @page
    def index(request: Request) -> Response:
        viewer = portal.viewer(request)
        name, found = portal.periods(request)
        teams = sorted(team for team in portal.ledger.catalogue().teams if viewer.sees(team))
        return pages.index(request, viewer, name, found, teams, sorted(portal.ledger.catalogue().reports))

    @page
    def overview(request: Request) -> Response:
        viewer = portal.viewer(request)
        period = portal.period(request.path_params["period"])
        name, seen = portal.seen(request, period, viewer)
        return pages.overview(request, viewer, name, seen)

    @page
    def team_page(request: Request) -> Response:
        viewer = portal.viewer(request)
        team = portal.team(viewer, request.path_params["team"])
        period = portal.period(request.path_params["period"])
        name, seen = portal.seen(request, period, viewer)
        history = []
        earlier, first = period, portal.ledger.first_hour(portal.report_key(request))
        for _ in range(HISTORY_PERIODS):  # the periods the ledger holds, at most six
            if first is None or earlier.end <= first:
                break
            _, found = portal.seen(request, earlier, viewer)
            history.append((earlier.name, sum(line.total_allocated for line in found.lines if line.team == team)))
            earlier = earlier.previous()
        return pages.team(request, viewer, name, seen, team, history[::-1])

    @page
    def download(request: Request) -> Response:
        viewer = portal.viewer(request)
        period = portal.period(request.path_params["period"])
        wanted = request.path_params["file"]
        if wanted not in DOWNLOADS:
            raise Refused(404, f"no download {wanted!r}; there are {', '.join(DOWNLOADS)}")
        _, seen = portal.seen(request, period, viewer)
        media, render = DOWNLOADS[wanted]
        disposition = f'attachment; filename="{period.name}-{wanted}"'
        return Response(render(seen), media_type=media, headers={"content-disposition": disposition})

    def sign_in_form(request: Request) -> Response:
        return pages.sign_in(request, _safe_next(request.query_params.get("next")), None)

    async def sign_in(request: Request) -> Response:
        if not _same_origin(request):
            return pages.refusal(request, 403, "sign-in is accepted only from the portal's own page")
        form = parse_qs((await request.body()).decode(errors="replace")[:20_000])
        token = (form.get("token") or [""])[0].strip()
        target = _safe_next((form.get("next") or ["/"])[0])
        try:
            return _signed_in(portal, request, token, target)
        except Refused as refused:
            return pages.sign_in(request, target, refused.message, refused.status)

    def sign_out(request: Request) -> Response:
        if not _same_origin(request):
            return pages.refusal(request, 403, "sign-out is accepted only from the portal's own page")
        session = request.cookies.get(COOKIE)
        if session:
            portal.ledger.end_session(_digest(session))
        answer = RedirectResponse("/sign-in", status_code=303)
        answer.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return answer

    @api
    def api_periods(request: Request) -> dict[str, Any]:
        portal.viewer(request)
        name, found = portal.periods(request)
        return {"report": name, "periods": [pages.period_record(state) for state in found]}

    @api
    def api_costs(request: Request) -> dict[str, Any]:
        viewer = portal.viewer(request)
        params = request.query_params
        unknown = set(params) - {"period", "aggregate", "team", "cluster", "report"}
        if unknown:
            raise Refused(400, f"unknown parameter(s) {', '.join(sorted(unknown))}")
        if "period" not in params:
            raise Refused(400, "period is required, e.g. period=2026-10")
        period = portal.period(params["period"])
        aggregate = params.get("aggregate", "team")
        if aggregate not in AGGREGATES:
            raise Refused(400, f"aggregate must be one of {', '.join(AGGREGATES)}")
        team = portal.team(viewer, params["team"]) if "team" in params else None
        name, seen = portal.seen(request, period, viewer)
        columns, rows = cost_rows(seen, aggregate)
        rows = [row for row in rows if (team is None or row["team"] == team)
                and ("cluster" not in params or row["cluster"] == params["cluster"])]  # fmt: skip
        return {"report": name, "period": period.name, "aggregate": aggregate, "state": seen.state_class,
                "stateLabel": seen.state_label, "completeness": views.completeness_record(seen.completeness),
                "currency": seen.currency, "columns": columns, "rows": rows}  # fmt: skip

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def readyz(request: Request) -> Response:
        try:
            portal.ledger.ready()
        except KubechargeError as error:
            return PlainTextResponse(f"the ledger cannot be read: {error}\n", status_code=503)
        return PlainTextResponse("ok\n")

    def metrics(request: Request) -> Response:
        return Response(generate_latest(portal.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def stylesheet(request: Request) -> Response:
        return Response(pages.stylesheet(), media_type="text/css", headers={"cache-control": "max-age=3600"})

    routes = [
        Route("/", index), Route("/periods/{period}", overview), Route("/periods/{period}/teams/{team}", team_page),
        Route("/periods/{period}/downloads/{file}", download),
        Route("/sign-in", sign_in_form, methods=["GET"]), Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        Route("/api/v1/periods", api_periods), Route("/api/v1/costs", api_costs),
        Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics),
        Route("/static/portal.css", stylesheet),
    ]  # fmt: skip
    return Starlette(routes=routes, middleware=[Middleware(Guarded, metrics=portal.metrics)])


def _signed_in(portal: Portal, request: Request, token: str, target: str) -> Response:
    """A session for the token's identity, its cookie set, and on to `target`."""
    if not token:
        raise Refused(401, "paste a token: kubectl create token <service account> (or your cluster's login)")
    who = portal._authenticated(token)
    session = secrets.token_urlsafe(32)
    portal.ledger.start_session(_digest(session), who.user, who.groups, who.uid,
                                           datetime.now(UTC) + timedelta(seconds=SESSION_SECONDS))  # fmt: skip
    log.info("signed in: user %s", who.user)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(COOKIE, session, max_age=SESSION_SECONDS, path="/", secure=True, httponly=True,
                      samesite="strict")  # fmt: skip
    return answer


def _digest(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


def _without_token(request: Request) -> str:
    kept = [(key, value) for key, value in request.query_params.multi_items() if key != "token"]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def _safe_next(target: str | None) -> str:
    """Only a path of this portal: never another site (`//host`, `https://…`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """A form posted from this portal's own page: the browser's Origin (or Referer) names this host."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}
    return urlsplit(origin).netloc == request.headers.get("host", "")
