"""Label values reaching PromQL are escaped; the query set's digest identifies it."""

from __future__ import annotations

from kubecharge.collect.promql import build, escape, selector
from kubecharge.settings import QuerySettings


def test_label_values_are_escaped() -> None:
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    text = selector("up", 'phase="Running"', labels={"cluster": 'prod"} or vector(1) #'})
    assert text == 'up{phase="Running", cluster="prod\\"} or vector(1) #"}'


def test_series_labels_reach_every_query_and_change_the_digest() -> None:
    plain = build(QuerySettings())
    scoped = build(QuerySettings(series_labels={"cluster": "eu-1"}))
    assert plain.digest != scoped.digest
    for name, query in scoped.as_dict().items():
        assert 'cluster="eu-1"' in query, name


def test_real_containers_only_for_cpu_and_memory() -> None:
    queries = build(QuerySettings())
    for query in (queries.cpu_usage_core_hours, queries.memory_usage_gib_hours):
        assert 'container!=""' in query
        assert 'container!="POD"' in query


def test_data_selectors_carry_their_job_and_belong_to_a_pod() -> None:
    queries = build(QuerySettings())
    for query in (queries.cpu_usage_core_hours, queries.memory_usage_gib_hours, queries.network_gib):
        assert 'metrics_path="/metrics/cadvisor"' in query  # never the kubelet's /metrics/resource copies
        assert 'namespace!=""' in query
        assert 'pod!=""' in query
    for query in (queries.cpu_request_core_hours, queries.storage_gib_hours, queries.namespace_labels):
        assert 'job="kube-state-metrics"' in query
