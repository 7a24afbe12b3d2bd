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

from kubecharge.errors import InputError, KubechargeError


class OutputError(KubechargeError):
    """The report folder could not be written (after the run: the ledger has the hours, a rerun is cheap)."""

    exit_code = 5


def check_target(out_dir: Path) -> None:
    """Refuse an unusable target before any work is done."""
    out_dir = out_dir.resolve()
    if not out_dir.parent.is_dir():
        raise InputError(f"--out {out_dir}: its parent folder {out_dir.parent} does not exist; create it first")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a folder; choose a folder")
    for folder in (out_dir.parent, *([out_dir] if out_dir.exists() else [])):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"--out {out_dir}: this process cannot write in {folder}; fix its permissions or "
                             "choose another folder")  # fmt: skip


def publish_directory(out_dir: Path, files: Mapping[str, bytes]) -> list[Path]:
    check_target(out_dir)
    out_dir = out_dir.resolve()
    parent = out_dir.parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
        try:
            for name, content in files.items():
                (staging / name).write_bytes(content)
            if not out_dir.exists():
                staging.rename(out_dir)
            else:
                for name in files:
                    os.replace(staging / name, out_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        raise OutputError(f"cannot write the report files into {out_dir} ({error.strerror}); nothing there was "
                          "changed: free space or fix permissions, then run again") from None  # fmt: skip
    return [out_dir / name for name in files]
