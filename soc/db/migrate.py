"""Schema migrations through Alembic's command API; the configuration lives here, not in alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from soc.db.session import make_engine, safe_url
from soc.errors import SocError

SCRIPT_LOCATION = Path(__file__).parent / "migrations"


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    return cfg


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`, in one transaction where the database allows."""
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    _run(url, "downgrade", revision)


def current(url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise SocError(f"cannot read the schema revision of {safe_url(url)}: {exc}") from exc
    finally:
        engine.dispose()


def _run(url: str, verb: str, revision: str) -> None:
    engine = make_engine(url, foreign_keys=False)
    cfg = config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            if verb == "upgrade":
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise SocError(f"database {verb} to {revision} failed on {safe_url(url)}: {exc}") from exc
    finally:
        engine.dispose()
