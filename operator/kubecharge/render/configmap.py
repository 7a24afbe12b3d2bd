"""The team leads' ConfigMap: `summary.md`, one `team-<name>.md` per team, and `chargeback.csv` when it fits.

A ConfigMap holds at most 1 MiB. The CSV is dropped first when the data would not fit (the summary then says
where the full data is); if even the Markdown would not fit, team pages are dropped with the same note.
"""

from __future__ import annotations

from kubecharge.domain.charges import Chargeback
from kubecharge.render.documents import report_markdown, team_markdowns
from kubecharge.render.tables import chargeback_csv

CONFIGMAP_LIMIT_BYTES = 1024 * 1024
BUDGET_BYTES = 900 * 1024  # room for keys, labels and metadata


def _size(data: dict[str, str]) -> int:
    return sum(len(key.encode()) + len(value.encode()) for key, value in data.items())


def configmap_data(report: Chargeback, elsewhere: str | None = None) -> dict[str, str]:
    """Keys and texts for the ConfigMap, always under the 1 MiB limit."""
    summary = report_markdown(report).decode()
    teams = {f"team-{team}.md": page.decode() for team, page in team_markdowns(report).items()}
    data = {"summary.md": summary, **teams, "chargeback.csv": chargeback_csv(report).decode()}
    if _size(data) <= BUDGET_BYTES:
        return data
    where = f" The full data is at {elsewhere}." if elsewhere else " Configure spec.outputs.objectStorage for it."
    note = "\n\n> chargeback.csv did not fit in this ConfigMap (1 MiB limit)." + where + "\n"
    data = {"summary.md": summary + note, **teams}
    if _size(data) <= BUDGET_BYTES:
        return data
    note = "\n\n> Per-team pages and chargeback.csv did not fit in this ConfigMap (1 MiB limit)." + where + "\n"
    return {"summary.md": summary[: BUDGET_BYTES - len(note.encode()) - 1024] + note}
