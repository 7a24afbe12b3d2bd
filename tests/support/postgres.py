"""A throwaway PostgreSQL server per test session (Debian's package; never the packaged cluster).

initdb refuses to run as root, so the server runs as the `postgres` user in a folder it owns, on 127.0.0.1 and a
free port, with fsync off. No fixture skips: without PostgreSQL the session fails.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy

from kubecharge.synthetic.local_prometheus import free_port


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    bindir = _bindir()
    work = Path(tempfile.mkdtemp(prefix="kubecharge-pg-"))
    work.chmod(0o755)
    data = work / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    port = free_port()
    as_postgres = {"user": "postgres", "check": True, "capture_output": True}
    subprocess.run([bindir / "initdb", "-A", "trust", "--no-sync", "-U", "postgres", "-D", data], **as_postgres)  # type: ignore[call-overload]
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run([bindir / "pg_ctl", "-D", data, "-o", options, "-w", "-l", data / "server.log", "start"],
                   **as_postgres)  # type: ignore[call-overload]  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], user="postgres", check=False,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"kubecharge_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
