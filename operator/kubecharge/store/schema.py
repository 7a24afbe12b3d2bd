"""Schema migrations (alembic): `kubecharge db upgrade` applies them; the operator refuses an unmigrated database.

The scripts live in `migrations/` inside the package, so an installed kubecharge can migrate without a checkout.
Migrations of one database run one at a time: the chart runs `db upgrade` in every replica's init container, and
two CLI runs may start together on a new SQLite file. PostgreSQL serialises them with an advisory lock, SQLite
with a lock on the database file; whoever waits finds the schema already current.

Database URLs appear in messages with their password masked (`postgresql://user:***@host/db`).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from kubecharge.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration (tests check it is alembic's head). Knowing it here spares a report whose database is current
# importing alembic at all (about 11 MiB of a CLI run's resident memory): alembic is loaded only to migrate.
HEAD = "0014"

MIGRATION_LOCK = 0x6B63_6D69  # the PostgreSQL advisory lock key of kubecharge's migrations ("kcmi")


def shown(url: str) -> str:
    """The URL as messages and logs may show it: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database URL given (not a valid SQLAlchemy URL)"


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@contextmanager
def _one_at_a_time(url: str) -> Iterator[None]:
    """Hold the database's migration lock while the block runs."""
    sqlite = _sqlite_file(url)
    if sqlite is not None:
        # A BSD lock on the database file itself (SQLite's own locks are POSIX record locks, which it does not
        # touch); an empty file is a new database to SQLite. A file that cannot be opened is left to the
        # migration to report.
        try:
            lock = open(sqlite, "a")  # noqa: SIM115 (held across the yield)
        except OSError:
            try:
                lock = open(sqlite)  # noqa: SIM115
            except OSError:
                yield
                return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            postgresql = connection.dialect.name == "postgresql"
            if postgresql:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
            try:
                yield
            finally:
                if postgresql:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                    connection.commit()
    finally:
        engine.dispose()


SCRIPTS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    from alembic.config import Config  # only to migrate: see HEAD

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    return HEAD


def scripts_head() -> str:
    """The newest revision among the migration scripts (what HEAD must say)."""
    from alembic.script import ScriptDirectory  # only to migrate: see HEAD

    revision = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision


def current(url: str) -> str | None:
    """The database's schema revision; None for an empty database, or a SQLite file that does not exist (it is
    not created by asking)."""
    sqlite = _sqlite_file(url)
    if sqlite is not None and not sqlite.exists():
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            return str(found[0]) if found else None
    except SQLAlchemyError as error:
        raise StorageError(f"cannot read the schema version of {shown(url)}: {_reason(error, url)}") from None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`, in a child process: alembic with mako and pygments is 10 MiB of resident
    memory that a report or the operator would otherwise keep for good after migrating once (measured: a 5-day
    report on a new database peaked at 237 MiB, 225 on a migrated one). The URL goes by environment, not argv
    (which `ps` shows)."""
    if revision == "head" and current(url) == HEAD:
        return  # nothing to migrate (whoever migrates concurrently finds it so too, under the lock)
    child = subprocess.run([sys.executable, "-m", "kubecharge.store.schema", revision], capture_output=True,
                           text=True, env={**os.environ, _URL_VARIABLE: url}, check=False)  # fmt: skip
    if child.returncode != 0:
        said = child.stderr.strip().splitlines()
        raise StorageError(said[-1] if said else f"migrating {shown(url)} failed (exit {child.returncode})")


_URL_VARIABLE = "KUBECHARGE_MIGRATE_DATABASE_URL"


def _upgrade_here(url: str, revision: str) -> None:
    from alembic import command  # only to migrate: see HEAD

    try:
        with _one_at_a_time(url):
            command.upgrade(_config(url), revision)
    except SQLAlchemyError as error:
        raise StorageError(f"migrating {shown(url)} failed: {_reason(error, url)}") from None


def downgrade(url: str, revision: str) -> None:
    """Roll the schema back to `revision` (before going back to an older kubecharge)."""
    from alembic import command  # only to migrate: see HEAD

    try:
        with _one_at_a_time(url):
            command.downgrade(_config(url), revision)
    except SQLAlchemyError as error:
        raise StorageError(f"downgrading {shown(url)} failed: {_reason(error, url)}") from None


def require_current(url: str) -> None:
    """Refuse a database whose schema is not at the version this kubecharge expects."""
    found, wanted = current(url), head()
    if found != wanted:
        raise StorageError(
            f"the database at {shown(url)} has schema {found or 'none'}, this kubecharge needs {wanted}; "
            "run `kubecharge db upgrade` (with the same KUBECHARGE_DATABASE_URL) first"
        )


def _main() -> int:
    """The migrating child: the one line of a failure on stderr (the parent raises it), nothing else."""
    try:
        _upgrade_here(os.environ[_URL_VARIABLE], sys.argv[1])
    except StorageError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def _reason(error: SQLAlchemyError, url: str) -> str:
    """The first line of a driver's error, with the URL's password masked wherever the driver quoted it."""
    reason = str(error).splitlines()[0]
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    return reason.replace(str(password), "***") if password else reason


if __name__ == "__main__":
    sys.exit(_main())
