"""The team leads' ConfigMap: `summary.md`, one `team-<name>.md` per team, and `chargeback.csv` with
`workloads-top.csv` (the 100 costliest workloads; every workload is in object storage's chargeback-workloads.csv)
and `recommendations.csv` when they fit.

A ConfigMap holds at most 1 MiB. The CSV is dropped first when the data would not fit (the summary then says
where the full data is); if even the Markdown would not fit, team pages are dropped with the same note.
"""

from __future__ import annotations

from collections.abc import Mapping

TEAM_PAGES = "teams/"  # the run's rendered files: report.md, chargeback.csv and teams/<team>.md

CONFIGMAP_LIMIT_BYTES = 1024 * 1024
BUDGET_BYTES = 900 * 1024  # room for keys, labels and metadata


def _size(data: dict[str, str]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


def configmap_data(rendered: Mapping[str, bytes], elsewhere: str | None = None) -> dict[str, str]:
    """Keys and texts for the ConfigMap from the run's rendered files (the same bytes as every other output),
    always under the 1 MiB limit."""
    summary = rendered["report.md"].decode()
    teams = {f"team-{name.removeprefix(TEAM_PAGES)}": page.decode() for name, page in sorted(rendered.items())
             if name.startswith(TEAM_PAGES)}  # fmt: skip
    data = {"summary.md": summary, **teams, "chargeback.csv": rendered["chargeback.csv"].decode(),
            "workloads-top.csv": rendered["workloads-top.csv"].decode(),
            "recommendations.csv": rendered["recommendations.csv"].decode()}  # fmt: skip
    if _size(data) <= BUDGET_BYTES:
        return data
    where = f" The full data is at {elsewhere}." if elsewhere else " Configure spec.outputs.objectStorage for it."
    note = "\n\n> chargeback.csv and recommendations.csv did not fit in this ConfigMap (1 MiB limit)." + where + "\n"
    data = {"summary.md": summary + note, **teams}
    if _size(data) <= BUDGET_BYTES:
        return data
    note = "\n\n> Per-team pages and chargeback.csv did not fit in this ConfigMap (1 MiB limit)." + where + "\n"
    return {"summary.md": summary[: BUDGET_BYTES - len(note.encode()) - 1024] + note}
