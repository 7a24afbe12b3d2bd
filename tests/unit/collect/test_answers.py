"""Streamed range answers: every series read in order and batched; a partial, truncated or foreign body is a fault
with one message, whatever the spacing of the JSON or where the answer's own fields sit."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests

from kubecharge.collect.answers import Series, range_batches
from kubecharge.errors import PrometheusUnavailable, TooManySamples

URL = "http://prometheus.test"


def _response(body: bytes, status: int = 200, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "OK" if status == 200 else "Unprocessable Entity"
    response.headers["Content-Type"] = content_type
    response.raw = io.BytesIO(body)
    return response


def _series(count: int, samples: int) -> list[Series]:
    return [{"metric": {"pod": f"p{index}", "note": 'a "]}" inside'},
             "values": [[1_759_370_400 + 3600 * hour, f"{index}.{hour}"] for hour in range(samples)]}
            for index in range(count)]  # fmt: skip


def _answer(series: list[Series], compact: bool, **fields: Any) -> bytes:
    """A Prometheus answer as Prometheus writes it (compact) or as Python's json.dumps does (spaced)."""
    answer = {"status": "success", **{k: v for k, v in fields.items() if k == "isPartial"},
              "data": {"resultType": "matrix", "result": series},
              **{k: v for k, v in fields.items() if k != "isPartial"}}  # fmt: skip
    return json.dumps(answer, separators=(",", ":") if compact else None).encode()


def _read(body: bytes, batch_samples: int = 7, **response: Any) -> list[list[Series]]:
    return range_batches(URL, "cpu_usage_core_hours", _response(body, **response), list, batch_samples)


@pytest.mark.parametrize("compact", [True, False])
def test_every_series_in_order_in_batches_of_about_the_samples_asked(compact: bool) -> None:
    series = _series(count=40, samples=3)
    batches = _read(_answer(series, compact, stats={"timings": {"evalTotalTime": 0.1}}))
    assert [one for batch in batches for one in batch] == [
        {**one, "values": [[float(stamp), value] for stamp, value in one["values"]]} for one in series
    ]
    assert [sum(len(one["values"]) for one in batch) for batch in batches] == [9] * 13 + [3]


def test_an_empty_answer_is_one_empty_batch() -> None:
    assert _read(_answer([], compact=True)) == [[]]


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("fields", [{"warnings": ["No StoreAPIs matched for this query"]}, {"isPartial": True}])
def test_a_partial_answer_is_a_fault(compact: bool, fields: dict[str, Any]) -> None:
    with pytest.raises(PrometheusUnavailable, match="only in part"):
        _read(_answer(_series(5, 2), compact, **fields))


def test_a_complete_victoriametrics_answer_is_read() -> None:
    assert len(_read(_answer(_series(5, 2), compact=True, isPartial=False), batch_samples=100)) == 1


@pytest.mark.parametrize(
    "body",
    [
        _answer(_series(5, 2), compact=True)[:-40],  # cut off mid-answer
        b"<html><body>Sign in</body></html>",
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}',
    ],
    ids=["truncated", "html", "instant"],
)
def test_a_body_that_is_not_a_whole_range_answer_is_a_fault(body: bytes) -> None:
    with pytest.raises(PrometheusUnavailable, match=r"not a (Prometheus API answer|range-query result)") as error:
        _read(body)
    assert "Sign in" not in str(error.value)


def test_an_error_answer_says_what_prometheus_said() -> None:
    body = json.dumps({"status": "error", "errorType": "execution",
                       "error": "query processing would load too many samples into memory"}).encode()  # fmt: skip
    with pytest.raises(TooManySamples, match="too many samples"):
        _read(body, status=422)
