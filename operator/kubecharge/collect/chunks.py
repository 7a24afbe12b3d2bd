"""Ask every question for one chunk of hours; the pipeline walks a period chunk by chunk."""

from __future__ import annotations

from datetime import datetime

from kubecharge.collect.source import UsageSource
from kubecharge.domain.collected import ChunkUsage


def collect_chunk(source: UsageSource, start: datetime, end: datetime) -> ChunkUsage:
    return ChunkUsage(
        start=start,
        end=end,
        cpu_usage_core_hours=source.cpu_usage_core_hours(start, end),
        cpu_request_core_hours=source.cpu_request_core_hours(start, end),
        memory_usage_gib_hours=source.memory_usage_gib_hours(start, end),
        memory_request_gib_hours=source.memory_request_gib_hours(start, end),
        storage_gib_hours=source.storage_gib_hours(start, end),
        network_gib=source.network_gib(start, end),
        namespace_labels=source.namespace_labels(start, end),
    )
