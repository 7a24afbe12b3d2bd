"""The Helm chart, with the real helm binary: lint, render, Kubernetes 1.33 validation, least privilege, non-root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecharge.handlers.app import peering_priority, replica_identity
from kubecharge.settings import QuerySettings, Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubecharge"
PRODUCTION_VALUES = ROOT / "examples" / "values-postgresql-s3.yaml"


def helm_binary() -> str:
    helm = ROOT / ".tools" / "bin" / "helm"
    if not helm.exists():
        raise RuntimeError("helm is not installed in .tools/bin; run `bash scripts/dev.sh setup`")
    return str(helm)


def helm(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HELM_CACHE_HOME": str(tmp / "cache"), "HELM_CONFIG_HOME": str(tmp / "config"),
                   "HELM_DATA_HOME": str(tmp / "data")}  # fmt: skip
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, env=environment, check=False)


def render(tmp: Path, *values: str) -> list[dict[str, Any]]:
    result = helm("template", "kubecharge", str(CHART), "--namespace", "kubecharge", "--include-crds", *values, tmp=tmp)
    assert result.returncode == 0, result.stderr
    (tmp / "rendered.yaml").write_text(result.stdout)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(params=["default", "postgresql-s3"])
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> list[dict[str, Any]]:
    values = ["-f", str(PRODUCTION_VALUES)] if request.param == "postgresql-s3" else []
    lint = helm("lint", "--strict", str(CHART), *values, tmp=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return render(tmp_path, *values)


def test_rendered_manifests_pass_kubernetes_validate(rendered: list[dict[str, Any]], tmp_path: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", "1.33.0", str(tmp_path / "rendered.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    kinds = {doc["kind"] for doc in rendered}
    assert {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service",
            "CustomResourceDefinition"} <= kinds  # fmt: skip
    validated = check.stdout.count("passed for resource")
    assert validated >= len([d for d in rendered if d["kind"] not in {"ClusterKopfPeering", "ServiceMonitor"}])


def test_rbac_has_no_wildcards_and_is_least_privilege(rendered: list[dict[str, Any]]) -> None:
    (role,) = [doc for doc in rendered if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == "kubecharge"]
    for rule in role["rules"]:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "delete" not in rule["verbs"], rule  # the operator never deletes; owner references clean up
    granted = {(group, resource): set(rule["verbs"]) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}  # fmt: skip
    assert granted[("", "namespaces")] == {"get", "list", "watch"}
    assert ("", "secrets") not in granted  # Secrets are never readable cluster-wide unless opted in
    assert ("kubecharge.io", "usagereports/status") in granted


def test_workloads_are_patched_only_when_annotations_are_asked_for(tmp_path: Path) -> None:
    """Off by default: the operator cannot touch a workload. With rbac.annotateWorkloads it may get and patch the
    workload kinds a recommendation names (the annotation alone is patched), and nothing more."""

    def workload_grants(docs: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
        (role,) = [doc for doc in docs if doc["kind"] == "ClusterRole"]
        return {(group, resource): set(rule["verbs"]) for rule in role["rules"] for group in rule["apiGroups"]
                for resource in rule["resources"] if group in {"apps", "batch"}}  # fmt: skip

    assert workload_grants(render(tmp_path)) == {}
    granted = workload_grants(render(tmp_path, "--set", "rbac.annotateWorkloads=true"))
    kinds = {("apps", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets")}
    assert granted == {kind: {"get", "patch"} for kind in kinds | {("batch", "jobs"), ("batch", "cronjobs")}}


def _secret_access(docs: list[dict[str, Any]]) -> dict[str, tuple[list[str], list[str] | None]]:
    """namespace -> (verbs, resourceNames) of every namespaced grant on Secrets bound to the operator."""
    roles = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs if d["kind"] == "Role"}
    found = {}
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        namespace = binding["metadata"]["namespace"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubecharge", "namespace": "kubecharge"}]
        for rule in roles[(namespace, binding["roleRef"]["name"])]["rules"]:
            if "secrets" in rule["resources"]:
                found[namespace] = (rule["verbs"], rule.get("resourceNames"))
    return found


def test_secrets_are_read_only_where_reports_keep_them(tmp_path: Path) -> None:
    assert _secret_access(render(tmp_path)) == {}  # the default reads no Secret at all
    production = render(tmp_path, "-f", str(PRODUCTION_VALUES))
    assert _secret_access(production) == {"finance": (["get"], None)}
    named = render(tmp_path, "--set", "rbac.secretNamespaces={finance,shop}", "--set", "rbac.secretNames={s3-creds}")
    assert _secret_access(named) == {"finance": (["get"], ["s3-creds"]), "shop": (["get"], ["s3-creds"])}
    wide = render(tmp_path, "--set", "rbac.clusterWideSecrets=true", "--set", "rbac.secretNamespaces={finance}")
    assert _secret_access(wide) == {}
    (role,) = [doc for doc in wide if doc["kind"] == "ClusterRole"]
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]} in role["rules"]


def test_replicas_peer_with_distinct_priorities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kopf pauses every replica when priorities tie: the production values must give each pod its own."""
    production = render(tmp_path, "-f", str(PRODUCTION_VALUES))
    (deployment,) = [
        doc for doc in production if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "kubecharge"
    ]
    assert deployment["spec"]["replicas"] == 2
    (peering,) = [doc for doc in production if doc["kind"] == "ClusterKopfPeering"]
    env = {e["name"]: e for e in _operator(production)["env"]}
    assert env["KUBECHARGE_PEERING_NAME"]["value"] == peering["metadata"]["name"]
    assert env["KUBECHARGE_STANDALONE"]["value"] == "false"
    assert env["KUBECHARGE_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "KUBECHARGE_PEERING_PRIORITY" not in env  # one fixed value in a Deployment would be the same in each pod
    priorities, identities = set(), set()
    for pod in ("kubecharge-7d9f-abcde", "kubecharge-7d9f-fghij"):  # two pods of the Deployment, as started
        for name, item in env.items():
            if "value" in item:
                monkeypatch.setenv(name, item["value"])
        monkeypatch.setenv("KUBECHARGE_POD_NAME", pod)
        settings = Settings()
        priorities.add(peering_priority(settings))
        identities.add(replica_identity(settings))
    assert len(priorities) == 2
    assert identities == {"kubecharge-7d9f-abcde", "kubecharge-7d9f-fghij"}
    assert Settings().peering_lifetime_seconds == 60


def test_pod_runs_non_root_read_only_without_privileges(rendered: list[dict[str, Any]]) -> None:
    deployments = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Deployment"}
    for deployment in deployments.values():  # the operator's, and the portal's where it is enabled
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
    pod = deployments["kubecharge"]["spec"]["template"]["spec"]
    (operator,) = pod["containers"]
    assert operator["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert operator["resources"]["requests"]
    assert pod["initContainers"][0]["command"] == ["kubecharge", "db", "upgrade"]


def test_database_choice(tmp_path: Path) -> None:
    default = render(tmp_path)
    env = {e["name"]: e for e in _operator(default)["env"]}
    assert env["KUBECHARGE_DATABASE_URL"]["value"] == "sqlite:////data/kubecharge.db"
    assert any(doc["kind"] == "PersistentVolumeClaim" for doc in default)
    production = render(tmp_path, "-f", str(PRODUCTION_VALUES))
    env = {e["name"]: e for e in _operator(production)["env"]}
    assert env["KUBECHARGE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "kubecharge-database"
    assert env["KUBECHARGE_DEFAULT_OBJECT_STORAGE_URL"]["value"] == "s3://finance-exports/kubecharge"
    assert not any(doc["kind"] == "PersistentVolumeClaim" for doc in production)
    assert any(doc["kind"] == "ServiceMonitor" for doc in production)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "database.type=oracle"], "database/type"),
        (["--set", "replicas=2"], "replicas > 1 needs database.type=postgresql"),
        (["--set", "prometheus.url=prometheus:9090"], "prometheus/url"),
        (["--set", "database.type=postgresql"], "existingSecret"),
        (["--set", "unknownKey=1"], "unknownKey"),
        (["--set", "portal.enabled=true", "--set", "portal.replicas=2"], "portal.replicas > 1 needs"),
        (["--set", "portal.enabled=true", "--set", "portal.ingress.enabled=true"], "portal.ingress.host"),
        (["--set", "portal.auth=oidc"], "portal/auth"),
    ],
)
def test_bad_values_are_refused_with_a_reason(values: list[str], message: str, tmp_path: Path) -> None:
    result = helm("template", "kubecharge", str(CHART), *values, tmp=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_chart_crds_are_the_repository_crds() -> None:
    for crd in (ROOT / "crds").glob("*.yaml"):
        assert (CHART / "crds" / crd.name).read_bytes() == crd.read_bytes(), (
            f"charts/kubecharge/crds/{crd.name} drifted"
        )


def _operator(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "kubecharge"]
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def test_ledger_values_reach_real_settings(tmp_path: Path) -> None:
    rendered = render(tmp_path, "--set", "ledger.recheckHours=2", "--set", "prometheus.sourceName=prod-prometheus")
    env = {e["name"]: e.get("value") for e in _operator(rendered)["env"]}
    assert (env["KUBECHARGE_RECHECK_HOURS"], env["KUBECHARGE_SOURCE_NAME"]) == ("2", "prod-prometheus")
    assert env["KUBECHARGE_SETTLE_SECONDS"] == "300"
    # Every variable the chart sets is a setting the operator reads (none is silently ignored).
    fields = {f"KUBECHARGE_{name.upper()}" for name in Settings.model_fields}
    fields |= {f"KUBECHARGE_QUERY_{name.upper()}" for name in QuerySettings.model_fields}
    assert set(env) <= fields


def test_querier_tenant_credentials_and_ca_reach_real_settings_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = render(
        tmp_path, "--set", "prometheus.tenant=finops", "--set", "prometheus.bearerTokenSecret.name=thanos-token",
        "--set", "prometheus.caConfigMap.name=querier-ca", "--set", "prometheus.headers.X-Org=finance",
        "--set", "prometheus.stateMetricsIntervalSeconds=30", "--set", "prometheus.gpuJobLabels.job=dcgm",
    )  # fmt: skip
    operator = _operator(rendered)
    env = {e["name"]: e.get("value") for e in operator["env"]}
    assert env["KUBECHARGE_PROMETHEUS_TENANT"] == "finops"
    assert json.loads(env["KUBECHARGE_PROMETHEUS_HEADERS"]) == {"X-Org": "finance"}
    assert env["KUBECHARGE_QUERY_STATE_METRICS_INTERVAL_SECONDS"] == "30"
    mounts = {m["name"]: m["mountPath"] for m in operator["volumeMounts"]}
    assert env["KUBECHARGE_PROMETHEUS_BEARER_TOKEN_FILE"] == mounts["prometheus-token"] + "/token"
    assert env["KUBECHARGE_PROMETHEUS_CA_FILE"] == mounts["prometheus-ca"] + "/ca.crt"
    (deployment,) = [doc for doc in rendered if doc["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["prometheus-token"]["secret"]["secretName"] == "thanos-token"
    assert volumes["prometheus-ca"]["configMap"]["name"] == "querier-ca"
    # Read back through the environment, as the operator reads it: each value means what the chart meant.
    for name, value in env.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.prometheus_tenant == "finops"
    assert settings.prometheus_headers == {"X-Org": "finance"}
    assert settings.queries.state_metrics_interval_seconds == 30
    assert settings.queries.gpu_job_labels == {"job": "dcgm"}
    assert str(settings.prometheus_ca_file) == "/etc/kubecharge/prometheus-ca/ca.crt"


def test_the_grafana_dashboard_is_opt_in_and_lands_where_grafana_looks(tmp_path: Path) -> None:
    assert not [d for d in render(tmp_path) if d["metadata"]["name"].endswith("-dashboard")]
    lint = helm("lint", "--strict", str(CHART), "--set", "grafana.dashboard.enabled=true", tmp=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(
        tmp_path, "--set", "grafana.dashboard.enabled=true", "--set", "grafana.dashboard.namespace=monitoring"
    )
    dashboard = next(d for d in docs if d["metadata"]["name"].endswith("-dashboard"))
    assert dashboard["kind"] == "ConfigMap"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    panels = json.loads(dashboard["data"]["kubecharge.json"])["panels"]
    assert {"Cost per team, current period", "Budget used", "Cost anomalies", "Ingest latency",
            "Recommended saving per team"} <= {p["title"] for p in panels}  # fmt: skip


def test_the_portal_is_opt_in_with_its_service_ingress_and_review_rights(tmp_path: Path) -> None:
    """portal.enabled renders the portal's Deployment (serve, its auth, the ledger's URL), Service, Ingress and a
    ServiceAccount that may only review tokens and access and read reports and mappings; the ClusterRole
    kubecharge-costs-viewer grants every team's costs. On SQLite it runs on the operator's node, on its volume."""
    assert not [d for d in render(tmp_path) if "portal" in d["metadata"]["name"]]
    docs = render(tmp_path, "-f", str(PRODUCTION_VALUES))
    lint = helm("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES), tmp=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    named = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    portal = named[("Deployment", "kubecharge-portal")]
    assert portal["spec"]["replicas"] == 2
    pod = portal["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["serve", "--port", "8080", "--auth", "kubernetes"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KUBECHARGE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "kubecharge-database"
    assert env["KUBECHARGE_CLUSTER_NAME"]["value"] == "prod-eu-1"
    assert pod["serviceAccountName"] == "kubecharge-portal"
    service = named[("Service", "kubecharge-portal")]
    assert service["spec"]["selector"] == portal["spec"]["selector"]["matchLabels"]
    operator_labels = named[("Deployment", "kubecharge")]["spec"]["selector"]["matchLabels"]
    assert operator_labels.items() - portal["spec"]["template"]["metadata"]["labels"].items()  # not the operator's
    ingress = named[("Ingress", "kubecharge-portal")]
    assert ingress["spec"]["rules"][0]["host"] == "costs.example.com"
    assert ingress["spec"]["tls"][0]["secretName"] == "costs-example-com-tls"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    rules = {(g, r): set(rule["verbs"]) for rule in named[("ClusterRole", "kubecharge-portal")]["rules"]
             for g in rule["apiGroups"] for r in rule["resources"]}  # fmt: skip
    assert rules == {("authentication.k8s.io", "tokenreviews"): {"create"},
                     ("authorization.k8s.io", "subjectaccessreviews"): {"create"},
                     ("kubecharge.io", "teammappings"): {"get", "list"},
                     ("kubecharge.io", "usagereports"): {"get", "list"}}  # fmt: skip
    viewer = named[("ClusterRole", "kubecharge-costs-viewer")]
    assert viewer["rules"] == [{"apiGroups": ["kubecharge.io"], "resources": ["teammappings/costs"], "verbs": ["get"]}]
    local = {(d["kind"], d["metadata"]["name"]): d for d in render(tmp_path, "--set", "portal.enabled=true",
                                                                   "--set", "portal.auth=none")}  # fmt: skip
    pod = local[("Deployment", "kubecharge-portal")]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][-1] == "none"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "kubecharge-data"}} in pod["volumes"]
    (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["labelSelector"]["matchLabels"] == operator_labels


REAL_CLUSTER_VALUES = """
serviceAccount:
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/kubecharge-exports"}
extraEnv:
  - {name: KUBECHARGE_QUERY_SERIES_LABELS, value: '{"cluster": "prod-eu-1"}'}
extraEnvFrom:
  - configMapRef: {name: kubecharge-settings}
podLabels: {team: platform}
podAnnotations: {example.com/scrape: "false"}
priorityClassName: platform-critical
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
migrate:
  resources: {requests: {cpu: 10m, memory: 64Mi}}
prometheus:
  cadvisorJobLabels: {job: kubelet-cadvisor}
  stateMetricsJobLabels: {job: ksm}
  clusterLabel: k8s_cluster
  timeoutSeconds: 120
  concurrency: 3
portal:
  enabled: true
"""


def test_values_for_real_clusters_reach_every_container_and_real_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every value a real cluster needs renders, lints and validates; the IRSA annotation reaches the
    ServiceAccount, extraEnv and extraEnvFrom every kubecharge container, and the Prometheus settings the
    operator's real Settings."""
    values = tmp_path / "real.yaml"
    values.write_text(REAL_CLUSTER_VALUES)
    lint = helm("lint", "--strict", str(CHART), "-f", str(values), tmp=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(tmp_path, "-f", str(values))
    check = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", "1.33.0", str(tmp_path / "rendered.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    named = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    account = named[("ServiceAccount", "kubecharge")]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/kubecharge-exports")
    for name in ("kubecharge", "kubecharge-portal"):
        pod = named[("Deployment", name)]["spec"]["template"]
        assert pod["metadata"]["labels"]["team"] == "platform"
        assert pod["spec"]["priorityClassName"] == "platform-critical"
        assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
        assert pod["spec"]["tolerations"][0]["value"] == "platform"
        for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["KUBECHARGE_QUERY_SERIES_LABELS"] == '{"cluster": "prod-eu-1"}', container["name"]
            assert {"configMapRef": {"name": "kubecharge-settings"}} in container["envFrom"], container["name"]
    migrate = named[("Deployment", "kubecharge")]["spec"]["template"]["spec"]["initContainers"][0]
    assert migrate["resources"]["requests"] == {"cpu": "10m", "memory": "64Mi"}  # merged over the defaults
    for binding in (d for d in docs if d["kind"] in {"ClusterRoleBinding", "RoleBinding"}
                    and d["metadata"]["name"] == "kubecharge"):  # fmt: skip
        assert binding["subjects"][0]["name"] == "kubecharge"
    for variable in _operator(docs)["env"]:
        if "value" in variable:
            monkeypatch.setenv(variable["name"], variable["value"])
    settings = Settings()
    assert settings.queries.cadvisor_job_labels == {"job": "kubelet-cadvisor"}
    assert settings.queries.state_metrics_job_labels == {"job": "ksm"}
    assert settings.queries.series_labels == {"cluster": "prod-eu-1"}
    assert (settings.cluster_label, settings.prometheus_timeout_seconds, settings.prometheus_concurrency) == (
        "k8s_cluster", 120.0, 3)  # fmt: skip


def test_an_existing_service_account_is_used_and_none_created(tmp_path: Path) -> None:
    docs = render(tmp_path, "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=platform-sa")
    assert not [d for d in docs if d["kind"] == "ServiceAccount"]
    assert _operator_pod(docs)["serviceAccountName"] == "platform-sa"
    refused = helm("template", "kubecharge", str(CHART), "--set", "serviceAccount.create=false", tmp=tmp_path)
    assert refused.returncode != 0
    assert "serviceAccount.create=false needs serviceAccount.name" in refused.stderr


def _operator_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "kubecharge"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod
