"""Read TeamMapping and UsageReport manifests from YAML and check them against the CRDs' own schemas.

The CLI reads the same YAML a platform team applies with kubectl, so the schema in `crds/` is the one
authority on what a valid manifest is: a manifest the API server would reject is rejected here too, with the
file, the document and the field named.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml
from openapi_schema_validator import OAS30Validator

from kubecharge.domain.anomalies import AnomalyRules
from kubecharge.domain.mappings import Budget, LabelSelector, SelectorRequirement, TeamMapping
from kubecharge.domain.names import dns_label_problem, metric_label_name
from kubecharge.domain.notifications import (
    Channel,
    ChannelKind,
    MessageEvent,
    Notifications,
    ProvisionalSchedule,
    SecretKey,
    Smtp,
    TeamRouting,
    channel_problems,
)
from kubecharge.domain.outlook_model import DEFAULT_THRESHOLDS
from kubecharge.domain.periods import PeriodKind
from kubecharge.domain.recommendations import RecommendationSettings
from kubecharge.domain.reports import (
    ConfigMapOutput,
    CostModel,
    IdleMode,
    NodeMatch,
    NodePrice,
    ObjectStorageOutput,
    Pricing,
    SharedCosts,
    ShareMode,
    UsageReportSpec,
)  # fmt: skip
from kubecharge.domain.resource_table import RESOURCES
from kubecharge.domain.usage import ChargeBasis
from kubecharge.errors import ManifestError
from kubecharge.packaged import crds_dir

API_VERSION = "kubecharge.io/v1alpha1"
MAX_MANIFEST_BYTES = 3 * 1024 * 1024  # the Kubernetes API's own request limit: no real manifest is larger
MAX_MANIFEST_VALUES = 100_000  # values once YAML aliases are expanded: a YAML bomb stops here, not in memory
_CRD_FILES = {"TeamMapping": "teammappings.kubecharge.io.yaml", "UsageReport": "usagereports.kubecharge.io.yaml"}


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of a kind's served version, as shipped in `crds/`."""
    crd = yaml.safe_load((crds_dir() / _CRD_FILES[kind]).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == API_VERSION.split("/")[1])
    return cast(dict[str, Any], version["schema"]["openAPIV3Schema"])


def _walk_problems(document: Any) -> list[str]:
    """Non-finite numbers (YAML's `.nan`, `.inf`, `1e400`), which JSON cannot carry and the schema's bounds do
    not catch, and documents that expand past MAX_MANIFEST_VALUES values (anchors and aliases)."""
    problems: list[str] = []
    pending: list[tuple[str, Any]] = [("", document)]
    seen = 0
    while pending:
        where, value = pending.pop()
        seen += 1
        if seen > MAX_MANIFEST_VALUES:
            return [f"(document): expands to more than {MAX_MANIFEST_VALUES:,} values (YAML anchors and aliases?); "
                    "write the manifest out plainly"]  # fmt: skip
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where.lstrip('.') or '(document)'}: {value!r} is not a finite number")
        elif isinstance(value, Mapping):
            pending.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return sorted(problems)


def _unknown_fields(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
    """Fields the schema does not know, as kubectl's strict field validation reports them, with the nearest
    known name: a typo (`namespace:` for `namespaces:`) must not silently drop what it meant to say."""
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return [p for index, item in enumerate(value) for p in _unknown_fields(items, item, f"{where}.{index}")]
    known = schema.get("properties")
    if not isinstance(value, Mapping) or not isinstance(known, Mapping):
        return []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    problems = []
    for key, item in value.items():
        path = f"{where}.{key}".lstrip(".")
        if key in known:
            problems += _unknown_fields(known[key], item, path)
        elif not isinstance(schema.get("additionalProperties"), Mapping):
            nearest = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {f'{where}.{nearest[0]}'.lstrip('.')}?" if nearest else ""
            problems.append(f"{path}: unknown field{hint}")
    return problems


def schema_errors(kind: str, document: Mapping[str, Any]) -> list[str]:
    """Every way `document` breaks the kind's schema, as 'field: problem' strings (empty when valid)."""
    problems = _walk_problems(document)
    if problems:  # checked first: expanding a YAML bomb into JSON would exhaust memory
        return problems
    validator = OAS30Validator(crd_schema(kind))
    plain = json.loads(json.dumps(document, default=dict))  # kopf's Body and other mapping views, as plain JSON
    problems = _unknown_fields(crd_schema(kind), plain, "")
    for error in sorted(validator.iter_errors(plain), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(part) for part in error.absolute_path) or "(document)"
        message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
        problems.append(f"{where}: {message}")
    return problems


def report_name_problem(document: Mapping[str, Any]) -> str | None:
    """A UsageReport's name and namespace become label values and object-key prefixes: both DNS labels."""
    metadata = document.get("metadata") or {}
    return dns_label_problem("metadata.name", metadata.get("name")) or (
        dns_label_problem("metadata.namespace", metadata["namespace"]) if "namespace" in metadata else None
    )


def _documents(path: Path) -> Iterable[tuple[str, int, dict[str, Any]]]:
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory; give a YAML file or a folder of them")
    files = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"}) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise ManifestError(f"{path}: the folder holds no .yaml or .yml files")
    for file in files:
        try:
            size = file.stat().st_size
            if size > MAX_MANIFEST_BYTES:
                raise ManifestError(
                    f"{file}: {size:,} bytes is more than a manifest can be ({MAX_MANIFEST_BYTES:,}, the Kubernetes "
                    "API's request limit); give the TeamMapping / UsageReport files only"
                )
            documents = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ManifestError(f"{file}:{where}: not valid YAML ({problem}); fix the file and retry") from None
        except OSError as error:
            raise ManifestError(f"{file}: cannot be read ({error.strerror})") from None
        for index, document in enumerate(documents, start=1):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ManifestError(f"{file} document {index}: expected a Kubernetes object, got {document!r}")
            yield str(file), index, document


def notification_problems(document: Mapping[str, Any]) -> list[str]:
    """A schema-valid UsageReport's spec.notifications, checked for what its schema cannot say."""
    settings = (document.get("spec") or {}).get("notifications")
    return channel_problems(_notifications(settings)) if settings else []


def _check(kind: str, where: str, document: dict[str, Any]) -> None:
    if document.get("apiVersion") != API_VERSION:
        raise ManifestError(f"{where}: apiVersion is {document.get('apiVersion')!r}, expected {API_VERSION!r}")
    name = (document.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{where}: metadata.name is missing")
    problems = schema_errors(kind, document)
    if problems:
        raise ManifestError(f"{where} ({kind} {name}) breaks the CRD schema: " + "; ".join(problems))
    if kind == "UsageReport":
        problem = report_name_problem(document)
        if problem:
            raise ManifestError(f"{where}: {problem}")
        problems = notification_problems(document)
        if problems:
            raise ManifestError(f"{where} (UsageReport {name}): " + "; ".join(problems))


def load_team_mappings(path: Path) -> list[TeamMapping]:
    """All TeamMappings under `path`; other kinds in the same files are ignored, names must be unique."""
    mappings: dict[str, TeamMapping] = {}
    for file, index, document in _documents(path):
        if document.get("kind") != "TeamMapping":
            continue
        where = f"{file} document {index}"
        _check("TeamMapping", where, document)
        mapping = team_mapping_from_object(document)
        if mapping.name in mappings:
            raise ManifestError(f"{where}: a second TeamMapping named {mapping.name!r}; names must be unique")
        mappings[mapping.name] = mapping
    if not mappings:
        raise ManifestError(f"{path}: no TeamMapping manifests found (kind: TeamMapping, apiVersion: {API_VERSION})")
    return sorted(mappings.values(), key=lambda m: m.name)


def load_usage_report(path: Path) -> UsageReportSpec:
    """The single UsageReport in `path`."""
    reports = [(f, i, d) for f, i, d in _documents(path) if d.get("kind") == "UsageReport"]
    if len(reports) != 1:
        raise ManifestError(f"{path}: expected exactly one UsageReport manifest, found {len(reports)}")
    file, index, document = reports[0]
    _check("UsageReport", f"{file} document {index}", document)
    return usage_report_from_object(document)


def team_mapping_from_object(document: Mapping[str, Any]) -> TeamMapping:
    """Domain TeamMapping from an already schema-valid object (from a file or from the API server)."""
    spec = document.get("spec") or {}
    selector = spec.get("namespaceSelector")
    pods = spec.get("podSelector")
    budget = spec.get("budget")
    return TeamMapping(
        name=document["metadata"]["name"],
        team=spec["team"],
        namespaces=frozenset(spec.get("namespaces") or ()),
        namespace_selector=_selector(selector) if selector is not None else None,
        namespace_patterns=tuple(spec.get("namespacePatterns") or ()),
        pod_selector=_selector(pods) if pods is not None else None,
        priority=int(spec.get("priority") or 0),
        display_name=spec.get("displayName"),
        cost_center=spec.get("costCenter"),
        owners=tuple(spec.get("owners") or ()),
        budget=Budget(
            Decimal(str(budget["monthly"])),
            budget["currency"],
            tuple(sorted({int(t) for t in budget.get("thresholds") or DEFAULT_THRESHOLDS})),
        )
        if budget
        else None,
        clusters=frozenset(spec.get("clusters") or ()),
        notifications=_team_routing(spec["notifications"]) if spec.get("notifications") else None,
        raw={"name": document["metadata"]["name"], "spec": dict(spec)},
    )


def _secret_key(ref: Mapping[str, Any] | None) -> SecretKey | None:
    return SecretKey(ref["name"], ref["key"], ref.get("namespace")) if ref else None


def _team_routing(routing: Mapping[str, Any]) -> TeamRouting:
    return TeamRouting(
        mute=bool(routing.get("mute", False)), email=tuple(routing.get("email") or ()),
        webhooks={hook["channel"]: SecretKey(hook["urlSecretRef"]["name"], hook["urlSecretRef"]["key"],
                                             hook["urlSecretRef"]["namespace"])
                  for hook in routing.get("webhooks") or ()},
    )  # fmt: skip


def _notifications(settings: Mapping[str, Any]) -> Notifications:
    def channel(item: Mapping[str, Any]) -> Channel:
        smtp = item.get("smtp")
        return Channel(
            name=item["name"], kind=ChannelKind(item["type"]), url=_secret_key(item.get("urlSecretRef")),
            signing=_secret_key(item.get("signingSecretRef")),
            smtp=Smtp(host=smtp["host"], sender=smtp["from"], port=int(smtp.get("port", 587)),
                      start_tls=bool(smtp.get("startTLS", True)), to=tuple(smtp.get("to") or ()),
                      credentials=(smtp.get("credentialsSecretRef") or {}).get("name"),
                      ca=_secret_key(smtp.get("caSecretRef"))) if smtp else None,
        )  # fmt: skip

    return Notifications(
        channels=tuple(channel(item) for item in settings.get("channels") or ()),
        provisional=ProvisionalSchedule(settings.get("provisional", "weekly")),
        events=frozenset(MessageEvent(event) for event in settings.get("events") or list(MessageEvent)),
        link=settings.get("link"),
    )


def _selector(selector: Mapping[str, Any]) -> LabelSelector:
    labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    return LabelSelector(
        match_labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        match_expressions=tuple(
            SelectorRequirement(e["key"], e["operator"], tuple(e.get("values") or ())) for e in expressions
        ),
    )


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Durations like `48h`, `2d`, `1h30m` (the CRD's pattern)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ManifestError(f"duration {text!r} is not like 48h, 2d or 1h30m")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def usage_report_from_object(document: Mapping[str, Any]) -> UsageReportSpec:
    """Domain UsageReportSpec from an already schema-valid object; missing fields take the CRD defaults."""
    spec = document.get("spec") or {}
    metadata = document.get("metadata") or {}
    pricing = spec.get("pricing") or {}
    defaults = Pricing()
    outputs = spec.get("outputs") or {}
    config_map = outputs.get("configMap") or {}
    storage = outputs.get("objectStorage")

    def price(key: str, default: Decimal) -> Decimal:
        return Decimal(str(pricing[key])) if key in pricing else default

    return UsageReportSpec(
        name=metadata["name"],
        namespace=metadata.get("namespace") or "default",
        period=PeriodKind(spec.get("period", "monthly")),
        charge_basis=ChargeBasis(spec.get("chargeBasis", "max")),
        pricing=Pricing(
            currency=pricing.get("currency", defaults.currency),
            **{r.price_field: price(r.price_key, getattr(defaults, r.price_field)) for r in RESOURCES},
            nodes=tuple(_node_price(rule) for rule in pricing.get("nodes") or ()),
            node_costs_from=(pricing.get("nodeCostsFrom") or {}).get("url"),
        ),
        finalize_after=parse_duration(spec.get("finalizeAfter", "48h")),
        config_map=ConfigMapOutput(bool(config_map.get("enabled", True)), config_map.get("name")),
        object_storage=(
            ObjectStorageOutput(
                url=storage["url"],
                secret_ref=(storage.get("secretRef") or {}).get("name"),
                formats=tuple(storage.get("formats") or ObjectStorageOutput.formats),
                retention=parse_duration(storage.get("retention", "2555d")),
            )
            if storage
            else None
        ),
        prometheus_url=(spec.get("prometheus") or {}).get("url"),
        clusters=tuple(spec.get("clusters") or ()),
        suspend=bool(spec.get("suspend", False)),
        cost_model=_cost_model(spec["costModel"]) if spec.get("costModel") is not None else None,
        anomalies=_anomaly_rules(spec.get("anomalies") or {}),
        recommendations=_recommendation_settings(spec.get("recommendations") or {}),
        notifications=_notifications(spec["notifications"]) if spec.get("notifications") else None,
    )


def _recommendation_settings(settings: Mapping[str, Any]) -> RecommendationSettings | None:
    if not settings.get("enabled", True):
        return None
    defaults = RecommendationSettings()
    return RecommendationSettings(
        window_days=int(settings.get("windowDays", defaults.window_days)),
        cpu_percentile=float(settings.get("cpuPercentile", defaults.cpu_percentile)),
        memory_headroom=float(settings.get("memoryHeadroom", defaults.memory_headroom)),
        annotate=bool(settings.get("annotate", defaults.annotate)),
    )


def _anomaly_rules(rules: Mapping[str, Any]) -> AnomalyRules | None:
    if not rules.get("enabled", True):
        return None
    defaults = AnomalyRules()
    return AnomalyRules(
        spread_factor=float(rules.get("spreadFactor", defaults.spread_factor)),
        min_change_ratio=float(rules.get("minChangePercent", 100 * defaults.min_change_ratio)) / 100,
        min_cost=float(rules.get("minCost", defaults.min_cost)),
    )


def _node_price(rule: Mapping[str, Any]) -> NodePrice:
    match = rule.get("match") or {}
    return NodePrice(
        NodeMatch(
            instance_type=match.get("instanceType"),
            capacity_type=match.get("capacityType"),
            zone=match.get("zone"),
            node=match.get("node"),
            labels=tuple(sorted((metric_label_name(str(k)), str(v)) for k, v in (match.get("labels") or {}).items())),
        ),
        Decimal(str(rule["hourly"])),
    )


def _cost_model(model: Mapping[str, Any]) -> CostModel:
    shared = model.get("shared")
    return CostModel(
        idle=IdleMode(model.get("idle", "show")),
        shared=SharedCosts(tuple(shared.get("namespaces") or ()), ShareMode(shared.get("distribute", "proportional")))
        if shared
        else None,
    )
