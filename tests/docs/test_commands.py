"""Every command shown in README.md and docs/ runs as written, or says why it cannot run here.

Each fenced shell (or Python) block is preceded by one of:
- `<!-- run -->`: this module runs the block with bash, in a fresh folder that looks like a checkout,
  against the session's Prometheus (`KUBECHARGE_PROMETHEUS_URL`, cluster `synthetic`), and it must succeed;
- `<!-- run by FILE -->`: FILE runs it (a test that reads the page, or `.ci/run`): FILE must name the page or
  hold the block's commands verbatim;
- `<!-- not runnable here: REASON -->`: it needs what this machine has not (a cluster, credentials, hours).
A block with none of them fails the suite: a command nobody runs is a command that can rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_LANGUAGES = {"sh", "bash", "console", "shell", "python"}
MARKER = re.compile(r"^<!-- (run|run by (?P<by>\S+)|not runnable here: (?P<why>.+)) -->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        index = 0
        while index < len(lines):
            opened = re.match(r"^```(\w*)$", lines[index])
            if not opened:
                index += 1
                continue
            end = lines.index("```", index + 1)
            before = next((line for line in reversed(lines[:index]) if line.strip()), "")
            found.append(Block(page, index + 1, opened[1], "\n".join(lines[index + 1 : end]) + "\n",
                               before if MARKER.match(before) else None))  # fmt: skip
            index = end + 1
    return found


COMMANDS = [block for block in blocks() if block.language in COMMAND_LANGUAGES]
RUN = [block for block in COMMANDS if block.marker == "<!-- run -->"]


def test_every_command_block_is_run_or_says_why_not() -> None:
    assert len(PAGES) >= 8, PAGES  # README and the docs it points to
    unmarked = [block.where for block in COMMANDS if block.marker is None]
    assert not unmarked, f"command blocks with no run / run by / not runnable here marker: {unmarked}"
    for block in COMMANDS:
        matched = MARKER.match(block.marker or "")
        assert matched is not None
        if matched["by"]:
            runner = ROOT / matched["by"]
            assert runner.is_file(), f"{block.where}: {matched['by']} does not exist"
            text = runner.read_text()
            commands = [line.split("  #")[0].strip() for line in block.text.splitlines() if line.strip()]
            names_page = (block.page.name in text and block.page.name != "README.md") or "README.md" in text
            assert names_page or all(command in text for command in commands), (
                f"{block.where}: {matched['by']} neither reads {block.page.name} nor runs {commands}"
            )
        if matched["why"]:
            assert len(matched["why"]) > 10, f"{block.where}: say why it cannot run here"
    assert len(RUN) >= 5  # the documented commands this module runs itself


CHECKOUT = ("examples", "scripts", "charts", "crds", "pyproject.toml", "Dockerfile")  # what the commands read


def sandbox(tmp_path: Path, prometheus_url: str) -> dict[str, str]:
    """A folder that looks like a checkout to the commands (what they write stays in it), and their environment."""
    for name in CHECKOUT:
        (tmp_path / name).symlink_to(ROOT / name)
    tools = [str(Path(sys.executable).parent), str(ROOT / ".tools" / "bin"), os.environ.get("PATH", "")]
    return {**os.environ, "PATH": os.pathsep.join(tools), "KUBECHARGE_PROMETHEUS_URL": prometheus_url,
            "KUBECHARGE_CLUSTER_NAME": "synthetic", "KUBECHARGE_DATABASE_URL": "sqlite:///kubecharge.db"}  # fmt: skip


@pytest.mark.parametrize("block", RUN, ids=[block.where for block in RUN])
def test_the_documented_commands_run_as_written(block: Block, prometheus_url: str, tmp_path: Path) -> None:
    language = ["python3", "-c"] if block.language == "python" else ["bash", "-euo", "pipefail", "-c"]
    done = subprocess.run([*language, block.text], cwd=tmp_path, env=sandbox(tmp_path, prometheus_url),
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, f"{block.where} failed:\n{block.text}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr


def test_the_readme_demo_runs_as_written_and_a_second_run_reuses_its_history(tmp_path: Path) -> None:
    """README's first command, on a cache of its own: the whole demo, then again from the kept history."""
    (demo,) = [block for block in COMMANDS if block.page.name == "README.md" and "dev.sh demo" in block.text]
    command = demo.text.split("#")[0].strip()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=900, check=False) for _ in range(2)]  # fmt: skip
    for done in runs:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Per team:" in done.stdout
        gap = float(re.search(r"gap to the generator's truth \(charged core-hours\): ([0-9.]+)%", done.stdout)[1])  # type: ignore[index]
        assert gap < 1.0
        assert "Forecast at the period's end" in done.stdout  # October in progress, as of the 15th
    assert "Generating the history" in runs[0].stdout
    assert "History found" in runs[1].stdout
    assert "Generating the history" not in runs[1].stdout
    assert (ROOT / "demo-report" / "report.html").is_file()
