"""The CLI behaves like the tools its users know: one line per mistake with its fix, help that shows defaults and
variables, `--version`, `-h`, completion, command-line options that win, and an `--out` that never clobbers."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from kubecharge import __version__, terminal
from tests.support.reports import assert_one_line_failure, closed_port, run_cli, run_in_process

PERIOD = "2026-10-01/2026-10-02"


def report(prometheus: str | None, mappings: Path, out: Path, *extra: str) -> list[str]:
    return ["report", *(["--prometheus", prometheus] if prometheus else []), "--mappings", str(mappings),
            "--period", PERIOD, "--out", str(out), "--db", f"sqlite:///{out.parent / 'k.db'}", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("KUBECHARGE_QUERY_CHUNK_HOURS", "abc", "KUBECHARGE_QUERY_CHUNK_HOURS: Input should be a valid integer"),
        ("KUBECHARGE_QUERY_SERIES_LABELS", "cluster=prod", "KUBECHARGE_QUERY_SERIES_LABELS is not valid JSON"),
        ("KUBECHARGE_PROMETHEUS_CONCURRENCY", "0", "KUBECHARGE_PROMETHEUS_CONCURRENCY: Input should be greater"),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert_one_line_failure(run_cli(*report(None, mappings_file, tmp_path / "out")), 2, said)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "k.db").exists()


def test_help_shows_defaults_and_variables_and_the_usual_flags() -> None:
    helped = run_cli("report", "-h")
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    assert "[default: $KUBECHARGE_PROMETHEUS_URL or http://localhost:9090]" in text
    assert "[default: $KUBECHARGE_DATABASE_URL or sqlite:///kubecharge.db]" in text
    assert "[default: $KUBECHARGE_SOURCE_NAME for the default Prometheus, else its URL]" in text
    version = run_cli("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"kubecharge {__version__}")
    script = Path(sys.executable).with_name("kubecharge")  # the console script, as a shell runs it
    completion = subprocess.run([str(script)], capture_output=True, text=True, check=False,
                                env={**os.environ, "_KUBECHARGE_COMPLETE": "source_bash"})  # fmt: skip
    assert completion.returncode == 0, completion.stderr
    assert "_kubecharge_completion()" in completion.stdout
    assert "complete -o default -F _kubecharge_completion kubecharge" in completion.stdout


def test_the_command_line_wins_over_the_manifest(prometheus_url: str, mappings_file: Path, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{closed_port()}"
    manifest = tmp_path / "report.yaml"
    manifest.write_text("apiVersion: kubecharge.io/v1alpha1\nkind: UsageReport\nmetadata: {name: monthly}\n"
                        f"spec: {{prometheus: {{url: '{closed}'}}}}\n")  # fmt: skip
    result = run_cli(*report(prometheus_url, mappings_file, tmp_path / "out", "--report", str(manifest)))
    assert result.returncode == 0, result.stderr  # --prometheus was used, not the manifest's closed port
    fallback = run_cli(*report(None, mappings_file, tmp_path / "out2", "--report", str(manifest)))
    assert_one_line_failure(
        fallback, 3, f"Prometheus at {closed} is unreachable"
    )  # without the option, the manifest's URL


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--prometheus", "127.0.0.1:19090", "needs http:// or https:// and a host, e.g. http://127.0.0.1:19090"),
        ("--prometheus", "prometheus:9090", "e.g. http://prometheus:9090"),
        ("--db", "postgres://kubecharge:hunter2@db/kubecharge", "write it like postgresql+psycopg://"),
    ],
)
def test_url_mistakes_are_bad_input_with_the_fix(mappings_file: Path, tmp_path: Path, option: str, value: str,
                                                 said: str) -> None:  # fmt: skip
    args = report("http://127.0.0.1:9", mappings_file, tmp_path / "out")
    args[args.index(option) + 1] = value
    line = assert_one_line_failure(run_cli(*args), 2, said)
    assert "hunter2" not in line
    assert not (tmp_path / "out").exists()


def test_out_refuses_a_folder_it_did_not_write_unless_forced(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work\n")
    refused = run_cli(*report(prometheus_url, mappings_file, out))
    assert_one_line_failure(refused, 2, "holds files that are not a kubecharge report (thesis.tex)", "--force")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert not (tmp_path / "k.db").exists()
    forced = run_cli(*report(prometheus_url, mappings_file, out, "--force"))
    assert forced.returncode == 0, forced.stderr
    assert (out / "thesis.tex").read_text() == "years of work\n"
    assert (out / "chargeback.csv").is_file()
    again = run_cli(*report(prometheus_url, mappings_file, tmp_path / "fresh"))  # a report's own files: no --force
    assert again.returncode == 0, again.stderr
    rerun = run_cli(*report(prometheus_url, mappings_file, tmp_path / "fresh"))
    assert rerun.returncode == 0, rerun.stderr


def test_a_new_out_folder_follows_the_umask(prometheus_url: str, mappings_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "kubecharge", *report(prometheus_url, mappings_file, out)],
        capture_output=True, text=True, check=False, umask=0o027,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "chargeback.csv").stat().st_mode) == 0o640


def test_team_names_are_never_cut_in_an_80_column_terminal(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(terminal, "stdout", Console(file=screen, width=80, color_system=None))
    code, output = run_in_process(*report(prometheus_url, mappings_file, tmp_path / "out"))
    assert code == 0, output
    table = screen.getvalue().split("Attribution coverage")[0]  # the table; sentences after it may soft-wrap
    assert max(len(line) for line in table.splitlines()) <= 80
    for team in ("unallocated", "identity", "payments", "platform", "search"):
        assert any(line.split("│")[1].strip() == team for line in table.splitlines() if line.count("│") > 2), team
    assert "…" not in table


def test_a_period_that_has_not_started_says_so_in_one_sentence(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    args = report(prometheus_url, mappings_file, tmp_path / "out")
    args[args.index(PERIOD)] = "2099-01"
    assert_one_line_failure(run_cli(*args), 2, "period 2099-01 has no complete hour yet")
    assert not (tmp_path / "out").exists()


def test_a_mapping_that_matches_no_namespace_is_a_warning(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    mappings = tmp_path / "teams.yaml"
    mappings.write_text(mappings_file.read_text() + "\n---\napiVersion: kubecharge.io/v1alpha1\nkind: TeamMapping\n"
                        "metadata: {name: billing}\nspec: {team: billing, namespaces: [biling]}\n")  # fmt: skip
    result = run_cli(*report(prometheus_url, mappings, tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: TeamMapping billing matched no namespace in 2026-10-01_2026-10-02; check its "
                        "spec.namespaces, namespaceSelector and namespacePatterns"]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "document", "said"),
    [
        (
            "teams",
            "kind: TeamMapping\nmetadata: {name: shop}\nspec: {team: shop, namespace: [shop]}\n",
            "spec.namespace: unknown field; did you mean spec.namespaces?",
        ),
        (
            "report",
            "kind: UsageReport\nmetadata: {name: monthly}\nspec: {chargebasis: usage}\n",
            "spec.chargebasis: unknown field; did you mean spec.chargeBasis?",
        ),
    ],
)
def test_a_typo_in_a_manifest_field_is_refused_before_any_work(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, kind: str, document: str, said: str
) -> None:
    manifest = tmp_path / f"{kind}.yaml"
    manifest.write_text("apiVersion: kubecharge.io/v1alpha1\n" + document)
    args = report(prometheus_url, manifest if kind == "teams" else mappings_file, tmp_path / "out",
                  *(["--report", str(manifest)] if kind == "report" else []))  # fmt: skip
    assert_one_line_failure(run_cli(*args), 2, said)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "k.db").exists()


def test_progress_on_a_terminal_quiet_in_pipes_and_lines_with_verbose(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a pipe: the table on stdout, nothing on stderr; --verbose says each chunk; --quiet prints nothing at all.
    piped = run_cli(*report(prometheus_url, mappings_file, tmp_path / "piped"))
    assert piped.returncode == 0, piped.stderr
    assert "payments" in piped.stdout
    assert piped.stderr == ""
    verbose = run_cli(*report(prometheus_url, mappings_file, tmp_path / "verbose", "--verbose", "--recollect"))
    assert verbose.returncode == 0, verbose.stderr
    said = verbose.stderr.splitlines()
    assert said
    assert all(line.startswith("Collecting from Prometheus: ") and " hours (" in line for line in said), said
    assert said[-1].startswith("Collecting from Prometheus: 24 of 24 hours")  # the period's hours, all collected
    quiet = run_cli(*report(prometheus_url, mappings_file, tmp_path / "quiet", "--quiet"))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert (tmp_path / "quiet" / "chargeback.csv").read_bytes() == (tmp_path / "piped" / "chargeback.csv").read_bytes()
    assert_one_line_failure(run_cli(*report(prometheus_url, mappings_file, tmp_path / "both", "-q", "-v")), 2,
                            "--quiet and --verbose")  # fmt: skip
    # On a terminal: a bar of the hours collected of the period's, with the time elapsed.
    screen = io.StringIO()
    monkeypatch.setattr(terminal, "stderr", Console(file=screen, width=100, force_terminal=True))
    code, _ = run_in_process(*report(prometheus_url, mappings_file, tmp_path / "terminal", "--recollect"))
    assert code == 0
    drawn = screen.getvalue()
    assert "Collecting from Prometheus" in drawn
    assert "24/24" in drawn
    assert "hours" in drawn
