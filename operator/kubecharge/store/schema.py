"""Schema migrations (alembic): `kubecharge db upgrade` applies them; the operator refuses an unmigrated database.

The scripts live in `migrations/` inside the package, so an installed kubecharge can migrate without a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from kubecharge.errors import StorageError

SCRIPTS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision


def current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        raise StorageError(f"cannot read the schema version of {url}: {str(error).splitlines()[0]}") from None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    try:
        command.upgrade(_config(url), revision)
    except SQLAlchemyError as error:
        raise StorageError(f"migrating {url} failed: {str(error).splitlines()[0]}") from None


def downgrade(url: str, revision: str) -> None:
    """Roll the schema back to `revision` (before going back to an older kubecharge)."""
    try:
        command.downgrade(_config(url), revision)
    except SQLAlchemyError as error:
        raise StorageError(f"downgrading {url} failed: {str(error).splitlines()[0]}") from None


def require_current(url: str) -> None:
    """Refuse a database whose schema is not at the version this kubecharge expects."""
    found, wanted = current(url), head()
    if found != wanted:
        raise StorageError(
            f"the database at {url} has schema {found or 'none'}, this kubecharge needs {wanted}; "
            "run `kubecharge db upgrade` (with the same KUBECHARGE_DATABASE_URL) first"
        )
