"""The effective-request rule and the uid fallback join, on values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from kubecharge.domain.collected import HOUR, VALUE
from kubecharge.domain.requests import INIT_CONTAINER, effective_requests
from kubecharge.rollup import adopt_request_uids

H = pd.Timestamp(datetime(2026, 10, 1, tzinfo=UTC))


def rows(*items: tuple[str, str, str, str, float]) -> pd.DataFrame:
    """(pod, container, kind, restart_policy, core-hours) in namespace ns, uid u-<pod>, hour H."""
    return pd.DataFrame(
        [
            {
                "namespace": "ns",
                "pod": p,
                "uid": f"u-{p}",
                "container": c,
                "kind": k,
                "restart_policy": r,
                HOUR: H,
                VALUE: v,
            }
            for p, c, k, r, v in items
        ]
    )


def by_container(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {(str(p), str(c)): float(v) for p, c, v in zip(frame["pod"], frame["container"], frame[VALUE], strict=True)}


def test_the_largest_init_container_reserves_its_excess_over_the_app_containers() -> None:
    result = effective_requests(
        rows(
            ("a", "app", "app", "", 0.5),
            ("a", "worker", "app", "", 0.25),
            ("a", "migrate", "init", "", 2.0),
            ("a", "fetch", "init", "", 1.0),
            ("a", "proxy", "init", "Always", 0.1),  # a sidecar: reserved as it is
            ("a", "(pod overhead)", "overhead", "", 0.25),
            ("b", "app", "app", "", 1.0),
            ("b", "small-init", "init", "", 0.5),  # smaller than the app container: nothing extra
        )
    )
    assert by_container(result) == {
        ("a", "app"): 0.5,
        ("a", "worker"): 0.25,
        ("a", "proxy"): 0.1,
        ("a", "(pod overhead)"): 0.25,
        ("a", INIT_CONTAINER): pytest.approx(2.0 - 0.75),
        ("b", "app"): 1.0,
    }
    # Kubernetes: sidecars + max(apps, largest init) + overhead = 0.1 + max(0.75, 2.0) + 0.25
    assert sum(v for (p, _), v in by_container(result).items() if p == "a") == pytest.approx(2.35)


def test_without_init_containers_nothing_changes() -> None:
    result = effective_requests(rows(("a", "app", "app", "", 0.5)))
    assert by_container(result) == {("a", "app"): 0.5}
    assert list(effective_requests(rows()).columns) == ["namespace", "pod", "uid", "container", HOUR, VALUE]


def frame(*items: tuple[str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"namespace": "kube-system", "pod": p, "uid": u, "container": c, HOUR: H, VALUE: v}
                         for p, u, c, v in items])  # fmt: skip


def test_usage_without_the_api_uid_joins_the_one_request_of_its_name() -> None:
    usage = frame(("etcd-0", "0123abcd" * 4, "etcd", 0.3), ("web", "", "app", 0.2), ("twin", "", "app", 0.1))
    request = frame(("etcd-0", "api-uid", "etcd", 0.1), ("web", "uid-w", "app", 0.5),
                    ("twin", "uid-1", "app", 0.1), ("twin", "uid-2", "app", 0.1))  # fmt: skip
    result = adopt_request_uids(usage, request)
    adopted = {(str(p), str(u)): float(v) for p, u, v in zip(result["pod"], result["uid"], result[VALUE], strict=True)}
    # The static pod's config-hash uid and the id-less usage take the request's uid; an ambiguous name stays apart.
    assert adopted == {("etcd-0", "api-uid"): 0.3, ("web", "uid-w"): 0.2, ("twin", ""): 0.1}
