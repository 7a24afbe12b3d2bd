"""Attribution precedence and selector semantics, on kube-state-metrics' sanitized label names."""

from __future__ import annotations

from datetime import UTC, datetime

from kubecharge.attribute import attribute, unmatched
from kubecharge.domain.mappings import LabelSelector, SelectorRequirement, TeamMapping, owner
from kubecharge.domain.names import metric_label_name
from kubecharge.domain.usage import NamespaceHour, ResourceQuantities
from kubecharge.handlers.mappings import mapping_status


def test_sanitized_label_names() -> None:
    assert metric_label_name("kubecharge.io/team") == "label_kubecharge_io_team"
    assert metric_label_name("app.kubernetes.io/part-of") == "label_app_kubernetes_io_part_of"


TEAM = {"label_kubecharge_io_team": "data", "label_tier": "batch"}


def test_priority_beats_match_kind() -> None:
    exact = TeamMapping("a-exact", "alpha", namespaces=frozenset({"etl"}))
    selector = TeamMapping(
        "b-sel", "beta", namespace_selector=LabelSelector((("kubecharge.io/team", "data"),)), priority=5
    )
    assert owner("etl", TEAM, [exact, selector]) == "beta"


def test_on_a_tie_exact_beats_selector_beats_pattern_then_name() -> None:
    pattern = TeamMapping("a", "by-pattern", namespace_patterns=("et*",))
    selector = TeamMapping("b", "by-selector", namespace_selector=LabelSelector((("tier", "batch"),)))
    exact = TeamMapping("c", "by-name", namespaces=frozenset({"etl"}))
    assert owner("etl", TEAM, [pattern, selector, exact]) == "by-name"
    assert owner("etl", TEAM, [pattern, selector]) == "by-selector"
    twin = TeamMapping("0-first", "twin", namespace_patterns=("e*",))
    assert owner("etl", TEAM, [pattern, twin]) == "twin"


def test_match_expressions() -> None:
    def sel(*requirements: SelectorRequirement) -> list[TeamMapping]:
        return [TeamMapping("m", "t", namespace_selector=LabelSelector((), requirements))]

    assert owner("x", TEAM, sel(SelectorRequirement("kubecharge.io/team", "In", ("ml", "data")))) == "t"
    assert owner("x", TEAM, sel(SelectorRequirement("kubecharge.io/team", "NotIn", ("data",)))) == "unallocated"
    assert owner("x", TEAM, sel(SelectorRequirement("tier", "Exists"))) == "t"
    assert owner("x", TEAM, sel(SelectorRequirement("owner", "DoesNotExist"))) == "t"
    assert owner("x", TEAM, sel(SelectorRequirement("owner", "Exists"))) == "unallocated"


def test_unclaimed_is_unallocated() -> None:
    assert owner("sandbox", {}, [TeamMapping("a", "alpha", namespaces=frozenset({"prod"}))]) == "unallocated"


def test_a_mapping_limited_to_other_clusters_claims_nothing_here() -> None:
    east_only = TeamMapping("pay", "payments", namespaces=frozenset({"shop"}), clusters=frozenset({"east"}))
    everywhere = TeamMapping("web", "web", namespace_patterns=("sh*",))
    rows = [NamespaceHour("shop", datetime(2026, 10, 1, tzinfo=UTC), ResourceQuantities(), {}, cluster)
            for cluster in ("east", "west")]  # fmt: skip
    owners = [(a.row.cluster, a.team) for a in attribute(rows, [east_only, everywhere])]
    assert owners == [("east", "payments"), ("west", "web")]
    now = datetime(2026, 10, 1, tzinfo=UTC)
    assert mapping_status("pay", [east_only, everywhere], {"shop": {}}, now, "east")["matchedNamespaces"] == ["shop"]
    assert mapping_status("pay", [east_only, everywhere], {"shop": {}}, now, "west")["matchedNamespaces"] == []


def test_a_mapping_that_matches_nothing_is_named() -> None:
    typo = TeamMapping("typo", "payments", namespaces=frozenset({"paymnets"}))
    shop = TeamMapping("shop", "web", namespace_patterns=("sh*",))
    rows = [NamespaceHour(ns, datetime(2026, 10, 1, tzinfo=UTC), ResourceQuantities(), {}, "east")
            for ns in ("shop", "payments")]  # fmt: skip
    assert unmatched(rows, [typo, shop]) == ["typo"]
    now = datetime(2026, 10, 1, tzinfo=UTC)
    matching = {c["type"]: c for c in mapping_status("typo", [typo, shop], {"shop": {}}, now)["conditions"]}
    assert (matching["Matching"]["status"], matching["Matching"]["reason"]) == ("False", "NoNamespace")
    matching = {c["type"]: c for c in mapping_status("shop", [typo, shop], {"shop": {}}, now)["conditions"]}
    assert matching["Matching"]["status"] == "True"


def test_a_pod_rule_claims_matching_pods_beats_an_exact_name_on_a_tie_and_never_a_namespace() -> None:
    """`apps` is platform's by name; web's podSelector claims web-labelled pods there only, search's anywhere."""
    platform = TeamMapping("apps", "platform", namespaces=frozenset({"apps"}))
    web = TeamMapping("web-pods", "web", namespaces=frozenset({"apps"}), pod_selector=LabelSelector((("team", "web"),)))
    search = TeamMapping("search-pods", "search", pod_selector=LabelSelector(
        match_expressions=(SelectorRequirement("team", "In", ("search",)),)))  # fmt: skip
    mappings = [platform, web, search]
    assert owner("apps", {}, mappings, pod_labels={"label_team": "web"}) == "web"  # pod rule > exact on a tie
    assert owner("apps", {}, mappings, pod_labels={"label_team": "search"}) == "search"
    assert owner("apps", {}, mappings, pod_labels={}) == "platform"  # unlabelled: the namespace's team
    assert owner("apps", {}, mappings) == "platform"
    assert owner("other", {}, mappings, pod_labels={"label_team": "web"}) == "unallocated"  # web's: apps only
    assert owner("other", {}, mappings, pod_labels={"label_team": "search"}) == "search"  # search's: anywhere
    platform_first = TeamMapping("apps", "platform", namespaces=frozenset({"apps"}), priority=1)
    assert owner("apps", {}, [platform_first, web], pod_labels={"label_team": "web"}) == "platform"  # priority first


def test_a_rows_pod_labels_decide_its_team() -> None:
    web = TeamMapping("web-pods", "web", pod_selector=LabelSelector((("team", "web"),)))
    hour = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [NamespaceHour("apps", hour, ResourceQuantities(cpu_core_hours_max=1.0), pod_labels=labels)
            for labels in ('{"label_team":"web"}', "")]  # fmt: skip
    assert [item.team for item in attribute(rows, [web])] == ["web", "unallocated"]
