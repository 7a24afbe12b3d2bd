"""Export writes that cannot interleave or silently lose their lock, against moto's S3 over HTTP and file://.

- Two writers that both decided to write version v1 (each listed the period before the other wrote): every file
  is an exclusive create, so the second fails on its first file and v1 holds the first writer's files only.
- `spec.outputs.objectStorage.retention` is the Object Lock period of finals.
- A bucket whose lock state cannot be read (an HTTP proxy in front of moto refuses that one call, as a policy
  without s3:GetBucketObjectLockConfiguration does) gets no final at all while a lock is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubecharge.errors import ObjectExistsError
from kubecharge.publish.exports import publish_export, verify
from kubecharge.publish.objectstore import ObjectStore, S3Options, open_store
from tests.support.proxy import FaultyProxy, Handler, answer
from tests.support.reports import run_cli

FIELDS = {"schema": "kubecharge.io/export-manifest/v1"}
REPORT = """apiVersion: kubecharge.io/v1alpha1
kind: UsageReport
metadata: {{name: monthly, namespace: finance}}
spec:
  outputs:
    objectStorage: {{url: "s3://placeholder", retention: {retention}, formats: [csv]}}
"""


def files(numbers: str) -> dict[str, bytes]:
    return {"chargeback.csv": numbers.encode(), "chargeback.json": b'{"teams": [], "totals": {"cost": {"total": 1}}}'}


class StaleListing:
    """A store whose listing was read before another writer wrote: what a second, concurrent writer sees."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def keys(self, prefix: str) -> list[str]:
        return []


@pytest.mark.parametrize("kind", ["s3", "file"])
def test_two_writers_of_one_provisional_version_never_mix_their_files(kind: str, aws: Any, tmp_path: Path) -> None:
    url = f"s3://finance/writers/{tmp_path.name}" if kind == "s3" else f"file://{tmp_path / 'exports'}"
    store = open_store(url, S3Options(endpoint_url=aws.meta.endpoint_url))
    first = publish_export(store, "finance/monthly/2026-10", files("team,cost\na,1\n"), final=False,
                           manifest_fields=FIELDS)  # fmt: skip
    assert first.version == "v1-provisional"
    with pytest.raises(ObjectExistsError, match="v1-provisional is being written by another writer"):
        publish_export(StaleListing(store), "finance/monthly/2026-10", files("team,cost\na,2\n"),
                       final=False, manifest_fields=FIELDS)  # fmt: skip
    assert store.get("finance/monthly/2026-10/v1-provisional/chargeback.csv") == b"team,cost\na,1\n"
    assert verify(store, "finance/monthly/2026-10/v1-provisional").problems == []
    assert [k.rsplit("/", 2)[1] for k in store.keys("finance/monthly/2026-10")] == ["v1-provisional"] * 3


def refuse_lock_state(handler: Handler, _: int) -> bool:
    """GetObjectLockConfiguration answered with AccessDenied; every other request goes to the S3 server."""
    if "object-lock" not in handler.path:
        return False
    answer(handler, 403, b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>denied</Message></Error>",
           "application/xml")  # fmt: skip
    return True


@pytest.fixture
def lock_state_refused(aws: Any) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(aws.meta.endpoint_url, refuse_lock_state)
    yield proxy
    proxy.close()


def cli_publish(prometheus_url: str, mappings: Path, tmp: Path, url: str, retention: str) -> Any:
    tmp.mkdir(exist_ok=True)
    report = tmp / "report.yaml"
    report.write_text(REPORT.format(retention=retention))
    return run_cli("report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", "2026-10-01",
                   "--out", str(tmp / "out"), "--db", f"sqlite:///{tmp / 'k.db'}", "--report", str(report),
                   "--publish", url)  # fmt: skip


def test_a_final_is_refused_when_the_bucket_lock_state_cannot_be_read(
    prometheus_url: str, mappings_file: Path, aws: Any, lock_state_refused: FaultyProxy, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KUBECHARGE_S3_ENDPOINT_URL", lock_state_refused.url)
    url = f"s3://finance-locked/unreadable/{tmp_path.name}"
    result = cli_publish(prometheus_url, mappings_file, tmp_path, url, "2555d")
    assert result.returncode == 5, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot read the Object Lock state of bucket finance-locked (AccessDenied)" in lines[0]
    assert "retention: 0d" in lines[0]
    listed = aws.list_objects_v2(Bucket="finance-locked", Prefix=f"unreadable/{tmp_path.name}")
    assert listed.get("KeyCount") == 0  # not one file of the final, locked or not

    # Asking for no lock is the documented way out: the final is written, protected by conditional writes.
    again = cli_publish(prometheus_url, mappings_file, tmp_path / "again", url, "0d")
    assert again.returncode == 0, again.stderr
    key = f"unreadable/{tmp_path.name}/finance/monthly/2026-10-01/v1-final/chargeback.csv"
    assert "ObjectLockMode" not in aws.head_object(Bucket="finance-locked", Key=key)


def test_the_report_retention_is_the_lock_period_of_finals(
    prometheus_url: str, mappings_file: Path, aws: Any, tmp_path: Path
) -> None:
    url = f"s3://finance-locked/retention/{tmp_path.name}"
    began = datetime.now(UTC)
    result = cli_publish(prometheus_url, mappings_file, tmp_path, url, "90d")
    assert result.returncode == 0, result.stderr
    key = f"retention/{tmp_path.name}/finance/monthly/2026-10-01/v1-final/chargeback.csv"
    head = aws.head_object(Bucket="finance-locked", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert began + timedelta(days=90) - timedelta(seconds=1) <= until <= datetime.now(UTC) + timedelta(days=90)
