"""Ask every question for one chunk of hours, and walk a list of chunks with a bounded number in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from kubecharge.collect.source import UsageSource
from kubecharge.domain.collected import ChunkUsage
from kubecharge.domain.ledger import NOTHING_OBSERVED
from kubecharge.domain.periods import HOUR
from kubecharge.domain.resources import RESOURCES


def collect_chunk(source: UsageSource, start: datetime, end: datetime) -> ChunkUsage:
    seen = source.scrape_completeness(start, end)
    hours = [start + HOUR * i for i in range(int((end - start) / HOUR))]
    return ChunkUsage(
        start=start,
        end=end,
        frames={q: source.usage(q, start, end) for resource in RESOURCES for q in resource.questions},
        namespace_labels=source.namespace_labels(start, end),
        completeness={hour: seen.get(hour, NOTHING_OBSERVED) for hour in hours},
        nodes=source.nodes(start, end),
    )


def _sized(source: UsageSource, chunks: Iterable[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """Each planned range in chunks of the hours the source says keep a chunk bounded (asked as each is started,
    so what the first chunks taught it sizes the rest)."""
    for start, end in chunks:
        while start < end:
            hours = source.chunk_hours(int((end - start) / HOUR))
            yield start, min(end, start + HOUR * hours)
            start = min(end, start + HOUR * hours)


def collect_chunks(
    source: UsageSource, chunks: Iterable[tuple[datetime, datetime]], concurrency: int = 1
) -> Iterator[ChunkUsage]:
    """The chunks in order, with up to `concurrency` of them being fetched ahead in worker threads.

    Prometheus works on the next chunks while the caller rolls up and stores this one, and memory stays
    bounded by `concurrency` chunks. A failure stops the walk and cancels what was not started yet.
    """
    pending_ranges = _sized(source, chunks)
    if concurrency <= 1:
        for start, end in pending_ranges:
            yield collect_chunk(source, start, end)
        return
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kubecharge-collect")
    in_flight: deque[Future[ChunkUsage]] = deque()
    try:
        for start, end in pending_ranges:
            in_flight.append(pool.submit(collect_chunk, source, start, end))
            if len(in_flight) >= concurrency:
                break
        while in_flight:
            yield in_flight.popleft().result()
            # Only now the next one: while the caller stores a chunk, at most `concurrency` chunks are alive.
            following = next(pending_ranges, None)
            if following is not None:
                in_flight.append(pool.submit(collect_chunk, source, *following))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
