"""`kubecharge serve`: the portal over the ledger, its viewers reviewed by the API server (or nobody, locally)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from kubecharge import manifests
from kubecharge.kube.catalogue import read_catalogue
from kubecharge.kube.client import api_client
from kubecharge.pipeline.ledger_view import Catalogue, open_portal_ledger
from kubecharge.portal.access import KubernetesReviewer, OpenAccess, Reviewer
from kubecharge.portal.app import Portal, build_app
from kubecharge.portal.security import PortalMetrics
from kubecharge.settings import Settings

log = logging.getLogger("kubecharge.portal")
AUTH_MODES = ("kubernetes", "none")


def file_catalogue(mappings: Path, reports: Sequence[Path]) -> Catalogue:
    """The catalogue of local files (`--mappings`, `--report`), checked now: bad input stops the server starting."""
    specs = [manifests.load_usage_report(path) for path in reports]
    return Catalogue({f"{spec.namespace}/{spec.name}": spec for spec in specs}, manifests.load_team_mappings(mappings))


def make_portal(settings: Settings, database_url: str, auth: str, catalogue: Catalogue | None) -> Portal:
    """The portal: its ledger (migrated as the CLI does), reviewer and catalogue (files, else the API server)."""
    api = api_client(settings.kube_api_url) if auth == "kubernetes" or catalogue is None else None
    reviewer: Reviewer
    if auth == "kubernetes":
        assert api is not None
        reviewer = KubernetesReviewer(api)
    else:
        log.warning("--auth none: EVERY VISITOR SEES EVERY TEAM'S COSTS. Use it on your own machine only; the chart "
                    "runs the portal with --auth kubernetes")  # fmt: skip
        reviewer = OpenAccess()
    if catalogue is not None:
        fixed = catalogue
        ledger = open_portal_ledger(settings, database_url, lambda: fixed)
    else:
        assert api is not None
        ledger = open_portal_ledger(settings, database_url, lambda: Catalogue(*read_catalogue(api)))
    return Portal(ledger, reviewer, PortalMetrics())


def run(portal: Portal, host: str, port: int) -> None:
    import uvicorn  # only to serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("portal listening on http://%s:%d", host, port)
    # uvicorn's access log would write `?token=` sign-ins into the log: the portal logs paths and statuses itself
    uvicorn.run(build_app(portal), host=host, port=port, access_log=False, log_level="info")
