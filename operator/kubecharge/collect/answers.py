"""Reading Prometheus API answers: checked for shape and completeness, range answers streamed series by series.

A decoded range answer is Python objects of several hundred bytes per series and per sample (measured: a 35 MiB
answer of 64,000 counter series becomes 142 MB), so a range answer is parsed as it arrives (ijson, on yajl's C
parser) and handed on in batches of series that are reduced to arrays and dropped: memory does not grow with the
hours or series an answer holds, and an answer can be as long as Prometheus' own limits allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ijson
import requests

from kubecharge.errors import PrometheusUnavailable, TooManySamples

T = TypeVar("T")
Series = dict[str, Any]
_READ_BYTES = 1 << 16
_HEAD_BYTES = 4096  # the answer's fields before `data` (status, VictoriaMetrics' isPartial)
_TAIL_BYTES = 1 << 16  # ... and after it (warnings, infos)


# Prometheus and Thanos ("would load too many samples"), VictoriaMetrics (-search.maxSamplesPerQuery).
_TOO_MANY_SAMPLES = ("too many samples", "maxSamplesPerQuery", "maxPointsPerTimeseries")


def answer_data(url: str, question: str, response: requests.Response) -> Any:
    """The `data` of a successful, complete answer read whole; an error or `warnings` (a partial answer) is a fault.

    Only Prometheus' own `error` text is quoted back; any other body (an HTML page, a proxy's answer, whatever
    a wrong URL returns) is described by its status, never echoed into logs, status or Events."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("status") not in {"success", "error"}:
        raise _not_an_answer(url, question, response)
    if response.status_code != 200 or answer.get("status") != "success":
        detail = str(answer.get("error") or response.reason)
        if any(fragment in detail for fragment in _TOO_MANY_SAMPLES):
            raise TooManySamples(f"Prometheus at {url} refused the {question} query: {_short(detail)}")
        raise PrometheusUnavailable(
            f"Prometheus at {url} rejected the {question} query (HTTP {response.status_code}): {_short(detail)}"
        )
    _complete(url, question, answer)
    return answer.get("data")


def range_batches(
    url: str, question: str, response: requests.Response, reduce: Callable[[list[Series]], T], batch_samples: int
) -> list[T]:
    """`reduce` of each batch of about `batch_samples` samples of a range answer's series, in order (at least one
    batch, maybe empty). Nothing is returned unless the whole answer was read and is complete."""
    if response.status_code != 200 or "json" not in response.headers.get("Content-Type", ""):
        series = range_series(url, question, answer_data(url, question, response))  # errors are small: read whole
        return [reduce(batch) for batch in _batched(iter(series), batch_samples)] or [reduce([])]
    body = _Body(response)
    try:
        reduced = [reduce(batch) for batch in _batched(_checked(url, question, body), batch_samples)]
    except ijson.JSONError:
        raise _not_an_answer(url, question, response) from None
    fields = body.fields()
    if fields is None or fields.get("status") != "success":
        raise _not_an_answer(url, question, response)
    if not re.search(rb'"resultType"\s*:\s*"matrix"', body.head):
        raise _not_a_range(url, question)
    _complete(url, question, fields)
    return reduced or [reduce([])]


def range_series(url: str, question: str, data: Any) -> list[Series]:
    """The series of a range answer's `data`, checked for shape: a 200 from something else is a fault, not a
    KeyError."""
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list) or not all(map(_is_series, result)):
        raise _not_a_range(url, question)
    return result


def _checked(url: str, question: str, body: _Body) -> Iterator[Series]:
    for series in ijson.items(body, "data.result.item", use_float=True):
        if not _is_series(series):
            raise _not_a_range(url, question)
        yield series
    while body.read():  # to the end: the fields after the series are read from what was seen last
        pass


def _batched(series: Iterator[Series], batch_samples: int) -> Iterator[list[Series]]:
    batch: list[Series] = []
    samples = 0
    for one in series:
        batch.append(one)
        samples += len(one["values"])
        if samples >= batch_samples:
            yield batch
            batch, samples = [], 0
    if batch:
        yield batch


def _is_series(series: Any) -> bool:
    return (isinstance(series, dict) and isinstance(series.get("metric"), dict)
            and isinstance(series.get("values"), list))  # fmt: skip


class _Body:
    """A streamed response body as a file for ijson, keeping its first and last bytes: the answer's own fields
    (status, warnings) sit before and after its series."""

    def __init__(self, response: requests.Response) -> None:
        self._chunks = response.iter_content(chunk_size=_READ_BYTES)
        self.head = b""
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        """The next piece of the body, whatever its size (ijson takes any); `read(0)` is ijson asking for the type."""
        if size == 0:
            return b""
        for chunk in self._chunks:
            if chunk:
                if len(self.head) < _HEAD_BYTES:
                    self.head += chunk[: _HEAD_BYTES - len(self.head)]
                self.tail = (self.tail + chunk)[-_TAIL_BYTES:]
                return chunk
        return b""

    def fields(self) -> dict[str, Any] | None:
        """The answer's top-level fields other than `data`, or None where they cannot be told apart. Quotes inside
        JSON strings are escaped, so `"data"` first appears as the key, and the series end at the last `]}` after
        which the rest parses as the object's remaining members."""
        at = self.head.find(b'"data"')
        try:
            before = json.loads(self.head[:at] + b'"data": null}') if at >= 0 else None
        except ValueError:
            before = None
        if not isinstance(before, dict):
            return None
        for end in reversed([match.end() for match in re.finditer(rb"\]\s*\}", self.tail)]):
            rest = self.tail[end:].strip()
            if rest == b"}":
                return before
            if rest.startswith(b","):
                try:
                    after = json.loads(b"{" + rest[1:])
                except ValueError:
                    continue
                if isinstance(after, dict):
                    return {**before, **after}
        return None


def _complete(url: str, question: str, answer: dict[str, Any]) -> None:
    """Thanos and Mimir say an answer is partial in `warnings`, VictoriaMetrics in `isPartial`."""
    warnings = "; ".join(map(str, answer.get("warnings") or []))
    if answer.get("isPartial") is True:
        warnings = warnings or "isPartial"
    if warnings:
        raise PrometheusUnavailable(
            f"Prometheus at {url} answered the {question} query only in part ({_short(warnings)}); "
            "a partial answer would undercharge, so nothing of it was stored: check the stores or replicas "
            "behind the querier, then retry"
        )


def _not_an_answer(url: str, question: str, response: requests.Response) -> PrometheusUnavailable:
    return PrometheusUnavailable(
        f"Prometheus at {url} answered the {question} query with HTTP {response.status_code} "
        f"{response.reason or ''} and a body that is not a Prometheus API answer; check that the URL is the "
        "base URL of Prometheus (or of Thanos, Mimir's /prometheus, VictoriaMetrics)"
    )


def _not_a_range(url: str, question: str) -> PrometheusUnavailable:
    return PrometheusUnavailable(
        f"Prometheus at {url} answered the {question} query with data that is not a range-query result; "
        "check that the URL points at a Prometheus API"
    )


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
