"""Run Alembic migrations programmatically (CLI, start-up and tests share this)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import async_database_url
from bot.db.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", async_database_url(database_url).replace("%", "%%"))
    return cfg


async def upgrade(database_url: str, revision: str = "head", engine: AsyncEngine | None = None) -> None:
    """Bring the schema to ``revision`` on a connection from our own async engine."""
    cfg = alembic_config(database_url)
    own = engine is None
    engine = engine or create_engine(database_url)

    def _run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    try:
        await _migrate(engine, _run)
    finally:
        if own:
            await engine.dispose()


async def _migrate(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    """SQLite cannot alter a column in place: Alembic rebuilds the table, which is only safe with
    foreign keys off, and that PRAGMA only works outside a transaction."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await conn.run_sync(run)
        await conn.commit()
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")


async def downgrade(database_url: str, revision: str = "base", engine: AsyncEngine | None = None) -> None:
    cfg = alembic_config(database_url)
    own = engine is None
    engine = engine or create_engine(database_url)

    def _run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    try:
        await _migrate(engine, _run)
    finally:
        if own:
            await engine.dispose()
