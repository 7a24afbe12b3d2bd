"""Publish rendered files into a local directory without ever leaving a half-written set.

Files are written into a hidden sibling staging folder first. A new directory is then renamed into place in
one step; an existing one has each file replaced atomically (`os.replace`) only after every file was written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from kubecharge.errors import InputError, OutputError

# Every name `pipeline.outputs.render_all` writes at the top of a folder (a test holds the two together).
REPORT_FILES = frozenset({"chargeback.csv", "chargeback-daily.csv", "chargeback-workloads.csv",
                          "chargeback-workloads-daily.csv", "workloads-top.csv", "recommendations.csv",
                          "chargeback.json", "report.md", "report.html", "teams"})  # fmt: skip


def check_target(out_dir: Path, *, force: bool = False) -> None:
    """Refuse an unusable target before any work is done, and a folder holding files that are not a report's
    (a typo in --out must not overwrite someone's work) unless `force`."""
    out_dir = out_dir.resolve()
    if not out_dir.parent.is_dir():
        raise InputError(f"--out {out_dir}: its parent folder {out_dir.parent} does not exist; create it first")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a folder; choose a folder")
    others = sorted(p.name for p in out_dir.iterdir() if p.name not in REPORT_FILES) if out_dir.is_dir() else []
    if others and not force:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise InputError(f"--out {out_dir} holds files that are not a kubecharge report ({shown}); choose an empty "
                         "or new folder, or pass --force to write the report files beside them")  # fmt: skip
    for folder in (out_dir.parent, *([out_dir] if out_dir.exists() else [])):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"--out {out_dir}: this process cannot write in {folder}; fix its permissions or "
                             "choose another folder")  # fmt: skip
    # Permissions are not the whole story (root passes every access check; /proc, /sys and read-only mounts refuse
    # anyway): the staging folder the files are written through is made and removed once, before any work.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out_dir.name}.check.", dir=out_dir.parent))
    except OSError as error:
        raise InputError(f"--out {out_dir}: {out_dir.parent} refuses new folders ({error.strerror}); choose another "
                         "folder") from None  # fmt: skip


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_directory(out_dir: Path, files: Mapping[str, bytes], *, force: bool = False) -> list[Path]:
    """Write `files` into `out_dir` all at once; a new folder gets the permissions the umask allows (a
    staging folder is created private, 0700, and opened up before it is renamed into place)."""
    check_target(out_dir, force=force)
    out_dir = out_dir.resolve()
    parent = out_dir.parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
        try:
            for name, content in files.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)  # teams/<team>.md
                (staging / name).write_bytes(content)
            if not out_dir.exists():
                staging.chmod(0o777 & ~_umask())
                staging.rename(out_dir)
            else:
                for name in files:
                    (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / name, out_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        raise OutputError(f"cannot write the report files into {out_dir} ({error.strerror}); nothing there was "
                          "changed: free space or fix permissions, then run again") from None  # fmt: skip
    return [out_dir / name for name in files]
