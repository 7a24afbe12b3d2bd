"""The kopf operator: handler registration and the run loop behind `kubecharge operator`.

Handlers are registered into a registry built from the settings (timer intervals are settings), so the
operator has no import-time state and tests run the very same registry against a Kubernetes emulator.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from kubecharge import allocators
from kubecharge.handlers.mappings import mapping_status
from kubecharge.handlers.peering import peering_problem
from kubecharge.handlers.reports import reconcile_report, valid_mappings
from kubecharge.handlers.state import Clock, OperatorState
from kubecharge.kube.client import api_client
from kubecharge.manifests import schema_errors
from kubecharge.pipeline.job import open_ledger
from kubecharge.selfmetrics import OperatorMetrics
from kubecharge.settings import Settings

GROUP, VERSION = "kubecharge.io", "v1alpha1"


def _bodies(index: Mapping[Any, Any]) -> list[Mapping[str, Any]]:
    return [body for key in sorted(index) for body in index[key]]


def build_registry(settings: Settings) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    app_settings = settings  # kopf passes its own `settings` kwarg to some handlers

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = 300
        settings.persistence.finalizer = "kubecharge.io/finalizer"
        settings.peering.lifetime = app_settings.peering_lifetime_seconds
        settings.peering.mandatory = not app_settings.standalone  # no peering object: fail, never run unpeered

    @kopf.on.startup(registry=registry)
    def peering_exists(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        if not app_settings.standalone and (problem := peering_problem(memo.state.kube, app_settings.peering_name)):
            logger.error(problem)

    @kopf.on.probe(id="peering", registry=registry)
    def peering_ready(memo: kopf.Memo, **_: Any) -> str:
        """Not ready while the peering object is missing: the log line above says why."""
        if app_settings.standalone:
            return "standalone"
        if problem := peering_problem(memo.state.kube, app_settings.peering_name):
            raise kopf.PermanentError(problem)
        return app_settings.peering_name

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if app_settings.kube_api_url:
            return kopf.ConnectionInfo(server=app_settings.kube_api_url)
        return kopf.login_via_client(**kwargs)

    @kopf.index(GROUP, VERSION, "teammappings", id="team_mappings", registry=registry)
    def team_mappings(name: str, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
        return {name: {"apiVersion": body["apiVersion"], "kind": body["kind"],
                       "metadata": {"name": name}, "spec": dict(body.get("spec") or {})}}  # fmt: skip

    @kopf.index(GROUP, VERSION, "usagereports", id="report_currencies", registry=registry)
    def report_currencies(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, str]:
        return {f"{namespace}/{name}": str(((body.get("spec") or {}).get("pricing") or {}).get("currency", "USD"))}

    @kopf.index("", "v1", "namespaces", id="namespace_labels", registry=registry)
    def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
        return {name: dict(labels)}

    # kopf passes indices as extra keyword arguments, which its handler protocols do not declare.
    @kopf.timer(GROUP, VERSION, "teammappings", interval=settings.mapping_interval_seconds, registry=registry)  # type: ignore[arg-type]
    def mapping_timer(
        name: str, patch: kopf.Patch, body: kopf.Body, memo: kopf.Memo, team_mappings: kopf.Index[str, Any],
        namespace_labels: kopf.Index[str, dict[str, str]], report_currencies: kopf.Index[str, str], **_: Any,
    ) -> None:  # fmt: skip
        state: OperatorState = memo["state"]
        problems = schema_errors("TeamMapping", body)
        if problems:
            message = "spec breaks the CRD schema: " + "; ".join(problems)
            patch.status.update(
                matchedNamespaces=[], conflicts=[], observedGeneration=body["metadata"].get("generation"),
                conditions=[{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": message}],
            )  # fmt: skip
            return
        mappings = valid_mappings(_bodies(team_mappings))
        labels = {key: next(iter(namespace_labels[key])) for key in namespace_labels}
        currencies = {key: next(iter(report_currencies[key])) for key in report_currencies}
        runs = state.unexported_pod_labels.values()
        unexported = sorted({key for found in runs for key in found.get(name, ())}) if runs else None
        fresh = mapping_status(name, mappings, labels, state.clock(), state.settings.cluster_name, currencies,
                               unexported)  # fmt: skip
        old = dict(body.get("status") or {})
        if fresh["conflicts"] and fresh["conflicts"] != old.get("conflicts"):
            kopf.warn(body, reason="MappingConflict",
                      message="; ".join(f"{c['namespace']} claimed by {', '.join(c['claimedBy'])}, "
                                        f"{c['winner']} wins" for c in fresh["conflicts"]))  # fmt: skip
        budget = [c for c in fresh["conditions"] if c["type"] == "BudgetComparable"]
        labels_condition = [c for c in fresh["conditions"] if c["type"] == "LabelNotExported"]
        if (
            labels_condition
            and labels_condition[0]["status"] == "True"
            and labels_condition[0]["message"] != _condition_message(old, "LabelNotExported")
        ):
            kopf.warn(body, reason="LabelNotExported", message=labels_condition[0]["message"])
        if budget and budget[0]["status"] == "False" and budget[0]["message"] != _budget_message(old):
            kopf.warn(body, reason="BudgetCurrencyMismatch", message=budget[0]["message"])
        if (
            {k: old.get(k) for k in ("matchedNamespaces", "conflicts")}
            != {k: fresh[k] for k in ("matchedNamespaces", "conflicts")}
            or old.get("observedGeneration") != body["metadata"].get("generation")
            or ((budget[0]["message"] if budget else None) != _budget_message(old))
            or (
                (labels_condition[0]["status"] if labels_condition else None)
                != _condition_status(old, "LabelNotExported")
            )
        ):
            patch.status.update(fresh, observedGeneration=body["metadata"].get("generation"))

    @kopf.timer(GROUP, VERSION, "usagereports", interval=settings.report_interval_seconds, registry=registry)  # type: ignore[arg-type]
    async def report_timer(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, team_mappings: kopf.Index[str, Any], **_: Any
    ) -> None:
        await reconcile_report(body, patch, memo["state"], _bodies(team_mappings), logger)

    @kopf.on.update(GROUP, VERSION, "usagereports", field="spec", registry=registry)  # type: ignore[arg-type]
    async def report_changed(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Any, team_mappings: kopf.Index[str, Any], **_: Any
    ) -> None:
        await reconcile_report(body, patch, memo["state"], _bodies(team_mappings), logger)

    return registry


def _budget_message(status: Mapping[str, Any]) -> str | None:
    return _condition_message(status, "BudgetComparable")


def _condition_message(status: Mapping[str, Any], kind: str) -> str | None:
    found = [c for c in status.get("conditions") or [] if c.get("type") == kind]
    return str(found[0].get("message")) if found else None


def _condition_status(status: Mapping[str, Any], kind: str) -> str | None:
    found = [c for c in status.get("conditions") or [] if c.get("type") == kind]
    return str(found[0].get("status")) if found else None


def replica_identity(settings: Settings) -> str:
    """The pod's name where the chart sets it, else host and process: unique among running replicas."""
    return settings.pod_name or f"{socket.gethostname()}-{os.getpid()}"


PRIORITY_BASE = 2**53  # the largest integer a JSON reader is sure to keep exact


def peering_priority(settings: Settings) -> int:
    """kopf pauses every replica when the top priorities tie, and pauses a running one when a higher one
    appears. The earlier a replica started, the higher its priority (microseconds, with a random tie-break),
    so replicas never tie and a rolling restart never takes reports away from a replica in the middle of a run."""
    if settings.peering_priority is not None:
        return settings.peering_priority
    return PRIORITY_BASE - time.time_ns() // 1000 - random.randrange(1000)


def build_state(settings: Settings, clock: Clock | None = None) -> OperatorState:
    return OperatorState(
        settings=settings,
        repository=open_ledger(settings.database_url, migrate=False),  # schema changes are `kubecharge db upgrade`
        kube=api_client(settings.kube_api_url),
        metrics=OperatorMetrics(),
        clock=clock or (lambda: datetime.now(UTC)),
        identity=replica_identity(settings),
    )


async def run_operator(
    settings: Settings,
    *,
    clock: Clock | None = None,
    stop_flag: threading.Event | asyncio.Event | None = None,
    ready_flag: threading.Event | asyncio.Event | None = None,
) -> None:
    """Run until stopped. Several replicas coordinate through kopf peering unless `standalone`."""
    allocators.bound()
    state = build_state(settings, clock)
    stop_metrics = state.metrics.serve(settings.metrics_port) if settings.metrics_port else None
    try:
        await kopf.operator(
            registry=build_registry(settings),
            clusterwide=True,
            standalone=settings.standalone,
            peering_name=None if settings.standalone else settings.peering_name,
            priority=None if settings.standalone else peering_priority(settings),
            identity=cast(Any, state.identity),  # kopf's Identity is a NewType of str: the same name everywhere
            liveness_endpoint=f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None,
            memo=kopf.Memo(state=state),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        if stop_metrics is not None:
            stop_metrics()
        state.repository.close()
        state.kube.close()  # type: ignore[no-untyped-call]
