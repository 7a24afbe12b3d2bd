"""Finance exports: versioned, checksummed, provisional until final, final forever, restated with their drift.

Layout: `<prefix>/<namespace>/<report>/<period>/v<N>-<provisional|final>/` holding the rendered files and
`manifest.json` (written last: a version without a manifest is incomplete and ignored). Rules:
- provisional: a new version only when the numbers (`chargeback.csv`) differ from the latest version;
- final: written once; never overwritten or deleted (immutable writes, S3 Object Lock where the bucket has it);
- restatement: if a later final computation differs from the latest final, `v<N+1>-final` is written with
  `restates` and the per-team and total drift in its manifest; the old final stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubecharge.domain.periods import iso
from kubecharge.errors import ExportUnreadable, ObjectExistsError, StorageTargetError
from kubecharge.publish.objectstore import ObjectStore

MANIFEST = "manifest.json"
NUMBERS = "chargeback.csv"  # the file whose content decides whether the numbers changed
SUMMARY = "chargeback.json"
_VERSION = re.compile(r"^v(\d+)-(provisional|final)$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def period_prefix(namespace: str, report: str, period: str) -> str:
    return f"{namespace}/{report}/{period}"


@dataclass(frozen=True)
class ExportVersion:
    number: int
    state: str
    manifest: dict[str, Any] | None  # None: incomplete (no manifest)

    @property
    def name(self) -> str:
        return f"v{self.number}-{self.state}"

    def file_sha256(self, name: str) -> str | None:
        for entry in (self.manifest or {}).get("files", []):
            if entry["name"] == name:
                return str(entry["sha256"])
        return None


@dataclass
class PublishOutcome:
    location: str
    version: str | None  # None when nothing new was written
    reason: str
    manifest_sha256: str | None = None
    drift: Drift | None = None
    latest: str | None = None  # the version that holds the current numbers
    written: list[str] = field(default_factory=list)


def versions(store: ObjectStore, base: str) -> list[ExportVersion]:
    found: dict[str, ExportVersion] = {}
    for key in store.keys(base):
        relative = key[len(base) :].strip("/")
        folder, _, name = relative.partition("/")
        match = _VERSION.match(folder)
        if not match:
            continue
        version = found.get(folder) or ExportVersion(int(match[1]), match[2], None)
        if name == MANIFEST:
            version = ExportVersion(version.number, version.state, json.loads(store.get(key)))
        found[folder] = version
    return sorted(found.values(), key=lambda v: v.number)


@dataclass(frozen=True)
class TeamDrift:
    """One team's figures in the old final and the new one (0 where the team was absent)."""

    before: Mapping[str, float]  # cost, cpuCoreHoursCharged, memoryGiBHoursCharged
    after: Mapping[str, float]

    @property
    def delta(self) -> dict[str, float]:
        return {key: self.after[key] - self.before[key] for key in self.after}

    @property
    def cost_delta(self) -> float:
        return self.after["cost"] - self.before["cost"]


@dataclass(frozen=True)
class Drift:
    """What changed between two finals: the total cost and each team whose figures moved."""

    total_before: float
    total_after: float
    teams: Mapping[str, TeamDrift]

    @property
    def total_delta(self) -> float:
        return self.total_after - self.total_before

    def record(self) -> dict[str, Any]:
        """As the manifest's `drift` says it."""
        before, after = self.total_before, self.total_after
        return {
            "total": {"before": before, "after": after, "delta": after - before,
                      "relative": (after - before) / before if before else None},
            "teams": {team: {"before": dict(moved.before), "after": dict(moved.after), "delta": moved.delta}
                      for team, moved in self.teams.items()},
        }  # fmt: skip


_NO_FIGURES = {"cost": 0.0, "cpuCoreHoursCharged": 0.0, "memoryGiBHoursCharged": 0.0}


def drift(old_summary: Mapping[str, Any], new_summary: Mapping[str, Any]) -> Drift:
    """What changed between two finals, from their chargeback.json: total and per-team cost and charged quantities."""

    def team_figures(summary: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        return {t["team"]: {"cost": t["cost"]["total"], "cpuCoreHoursCharged": t["cpuCoreHoursCharged"],
                            "memoryGiBHoursCharged": t["memoryGiBHoursCharged"]} for t in summary["teams"]}  # fmt: skip

    old_teams, new_teams = team_figures(old_summary), team_figures(new_summary)
    teams = {}
    for team in sorted(set(old_teams) | set(new_teams)):
        moved = TeamDrift(old_teams.get(team, _NO_FIGURES), new_teams.get(team, _NO_FIGURES))
        if any(moved.delta.values()):
            teams[team] = moved
    return Drift(old_summary["totals"]["cost"]["total"], new_summary["totals"]["cost"]["total"], teams)


def publish_export(
    store: ObjectStore,
    base: str,
    files: Mapping[str, bytes],
    *,
    final: bool,
    manifest_fields: Mapping[str, Any],
    now: datetime | None = None,
    stamp: Callable[[str, str | None], Mapping[str, bytes]] | None = None,
) -> PublishOutcome:
    """Write a new version under `base` if the rules say so; returns what was (or was not) written.

    `stamp(version, restates)` renders the documents again once the version is chosen, so a report inside
    `v2-final/` says it is v2-final (and what it restates); the numbers' files are never re-rendered."""
    existing = versions(store, base)
    complete = [v for v in existing if v.manifest is not None]
    finals = [v for v in complete if v.state == "final"]
    latest = complete[-1] if complete else None
    numbers = sha256(files[NUMBERS])
    location = f"{store.url}/{base}"
    restates: ExportVersion | None = None

    def unchanged(version: ExportVersion, reason: str) -> PublishOutcome:
        manifest_sha = sha256(store.get(f"{base}/{version.name}/{MANIFEST}"))
        return PublishOutcome(location, None, reason, manifest_sha, latest=version.name)

    if final:
        if finals and finals[-1].file_sha256(NUMBERS) == numbers:
            return unchanged(finals[-1], f"{finals[-1].name} already holds these numbers")
        restates = finals[-1] if finals else None
    else:
        if finals:
            final_name = finals[-1].name
            return unchanged(finals[-1], f"the period is final ({final_name}); no provisional data after it")
        if latest is not None and latest.file_sha256(NUMBERS) == numbers:
            return unchanged(latest, f"{latest.name} already holds these numbers")
    number = max((v.number for v in existing), default=0) + 1  # incomplete versions keep their number
    state = "final" if final else "provisional"
    version = f"v{number}-{state}"
    change = None
    if restates is not None:
        old_summary = json.loads(store.get(f"{base}/{restates.name}/{SUMMARY}"))
        change = drift(old_summary, json.loads(files[SUMMARY]))
    if stamp is not None:
        files = {**files, **{name: data for name, data in stamp(version, restates.name if restates else None).items()
                             if name in files and name not in {NUMBERS, SUMMARY}}}  # fmt: skip
    manifest = {
        **manifest_fields,
        "state": state,
        "version": version,
        "createdAt": iso(now or datetime.now(UTC)),
        "files": [{"name": name, "size": len(data), "sha256": sha256(data)} for name, data in sorted(files.items())],
        "restates": restates.name if restates else None,
        "drift": change.record() if change is not None else None,
    }
    written = []
    try:  # every file is an exclusive create: a second writer of the same version fails on its first file
        for name, data in sorted(files.items()):
            store.put(f"{base}/{version}/{name}", data, immutable=final, exclusive=True)
            written.append(name)
        manifest_bytes = (json.dumps(manifest, indent=2) + "\n").encode()
        store.put(f"{base}/{version}/{MANIFEST}", manifest_bytes, immutable=final, exclusive=True)
    except ObjectExistsError:
        raise ObjectExistsError(
            f"{location}/{version} is being written by another writer at the same time; nothing of this run was "
            "published there, and the next run compares its numbers with that version"
        ) from None
    reason = f"restates {restates.name}" if restates else f"new {state} numbers"
    return PublishOutcome(location, version, reason, sha256(manifest_bytes), change, version, [*written, MANIFEST])


@dataclass(frozen=True)
class Verification:
    manifest: dict[str, Any]
    problems: list[str]  # every way the files differ from the manifest; empty: all checksums match


def verify(store: ObjectStore, version_prefix: str) -> Verification:
    """Check every file of one version against its manifest's size and SHA-256."""

    def key(name: str) -> str:
        return f"{version_prefix.strip('/')}/{name}" if version_prefix.strip("/") else name

    try:
        manifest = json.loads(store.get(key(MANIFEST)))
    except StorageTargetError as error:
        raise ExportUnreadable(f"cannot read {MANIFEST}: {error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Verification({}, [f"{MANIFEST}: not a kubecharge manifest (not JSON)"])
    problems = []
    for entry in manifest.get("files", []):
        name = entry["name"]
        try:
            data = store.get(key(name))
        except StorageTargetError:
            problems.append(f"{name}: missing")
            continue
        if len(data) != entry["size"]:
            problems.append(f"{name}: size {len(data)} differs from the manifest's {entry['size']}")
        elif sha256(data) != entry["sha256"]:
            problems.append(f"{name}: SHA-256 {sha256(data)} differs from the manifest's {entry['sha256']}")
    return Verification(manifest, problems)
