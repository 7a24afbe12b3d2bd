"""Every exit code the reference (docs/reference.md) documents is the code's own table
(`kubecharge.errors.EXIT_CODES`), and each one is what a user meets in the situation it names (5, a write refused
after the run, is asserted in `tests/integration/test_export_writes.py`, where a faulty S3 proxy refuses it)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from kubecharge.errors import EXIT_CODES
from tests.conftest import PERIOD
from tests.support.reports import assert_one_line_failure, closed_port, run_cli

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_the_readme_table_is_the_codes_table() -> None:
    block = REFERENCE.read_text().split("<!-- exit-codes -->")[1].split("<!-- /exit-codes -->")[0]
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+) \|$", block, flags=re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == EXIT_CODES


def report(prometheus: str, mappings: Path, tmp: Path, *extra: str, period: str = PERIOD) -> list[str]:
    return ["report", "--prometheus", prometheus, "--mappings", str(mappings), "--period", period, "--out",
            str(tmp / "out"), "--db", f"sqlite:///{tmp / 'k.db'}", "--cluster", "synthetic", *extra]  # fmt: skip


def test_0_2_3_and_4(mappings_file: Path, tmp_path: Path) -> None:
    assert run_cli("version").returncode == 0
    assert_one_line_failure(run_cli(*report("http://127.0.0.1:9", mappings_file, tmp_path, period="2026-13")), 2,
                            "month 13 does not exist")  # fmt: skip
    unreachable = f"http://127.0.0.1:{closed_port()}"
    assert_one_line_failure(run_cli(*report(unreachable, mappings_file, tmp_path)), 3, "is unreachable")
    refused = report(unreachable, mappings_file, tmp_path)
    refused[refused.index("--out") + 1] = "/proc/kubecharge-report"  # refused before any work, not after it
    assert_one_line_failure(run_cli(*refused), 2, "/proc refuses new folders", "choose another folder")
    database = f"postgresql+psycopg://kubecharge@127.0.0.1:{closed_port()}/ledger"
    assert_one_line_failure(run_cli("db", "upgrade", "--db", database), 4, "cannot read the schema version")


def test_8_a_period_with_hours_without_data_fails_with_require_complete_and_writes_nothing(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    wider = "2026-09-30/2026-10-02"  # a day before the first sample
    line = assert_one_line_failure(
        run_cli(*report(prometheus_url, mappings_file, tmp_path, "--require-complete", period=wider)), 8,
        "period 2026-09-30_2026-10-02 is incomplete (data for 24 of 48 hours; no data 2026-09-30T00:00Z–"
        "2026-09-30T23:00Z)", "nothing was written or published",
    )  # fmt: skip
    assert "--require-complete" in line
    assert not (tmp_path / "out").exists()
    complete = run_cli(*report(prometheus_url, mappings_file, tmp_path, "--require-complete", period="2026-10-01"))
    assert complete.returncode == 0, complete.stderr
    assert "State: final" in complete.stdout
    without = run_cli(*report(prometheus_url, mappings_file, tmp_path, "--force", period=wider))
    assert without.returncode == 0, without.stderr
    assert "final — incomplete (data for 24 of 48 hours)" in " ".join((without.stdout + without.stderr).split())


def version(folder: Path, files: dict[str, bytes], listed: dict[str, bytes] | None = None) -> Path:
    """A published version folder as `publish` lays it out: the files and a manifest of their sizes and SHA-256."""
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    entries = [{"name": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
               for name, content in (listed or files).items()]  # fmt: skip
    manifest = {"files": entries, "state": "final",
                "completeness": {"summary": "data for 744 of 744 hours"}}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_6_a_changed_file_and_7_an_export_that_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str
) -> None:
    intact = version(tmp_path / "v1-final", {"chargeback.csv": b"team,cost\nweb,1\n"})
    for location in (str(intact), intact.as_uri(), f"{intact}/manifest.json"):  # plain paths are accepted
        result = run_cli("verify", location)
        assert result.returncode == 0, result.stderr
        assert "Completeness: data for 744 of 744 hours (final)" in result.stdout
    changed = version(tmp_path / "v2-final", {"chargeback.csv": b"team,cost\nweb,2\n"},
                      listed={"chargeback.csv": b"team,cost\nweb,1\n"})  # fmt: skip
    result = run_cli("verify", str(changed))
    assert result.returncode == 6
    assert "mismatch:" in result.stderr
    assert "chargeback.csv: SHA-256" in result.stderr
    assert_one_line_failure(run_cli("verify", str(tmp_path / "v9-final")), 7, "cannot read manifest.json")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECHARGE_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert_one_line_failure(run_cli("verify", "s3://finance/exports/2026-10/v1-final"), 7,
                            "no AWS credentials", "AWS_ACCESS_KEY_ID")  # fmt: skip


def test_help_shows_what_each_option_takes() -> None:
    shown = run_cli("report", "--help").stdout
    assert "--cluster NAME" in " ".join(shown.split())
    assert "<list" not in shown
    assert "<str>" not in shown
