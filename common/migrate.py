"""Schema changes by Alembic migrations, one run at a time across processes.

Two chains live under ``migrations/``: ``gateway`` (the gateway's DB, gateway/storage/migrate.py) and
``assistant`` (bookings + the unanswered log, ``ASSISTANT_DB_URL``, written by the action servers and read by the
gateways). Every process that opens one of these databases calls ``upgrade(engine, chain)`` first:

* PostgreSQL: the whole upgrade runs in one transaction that first takes ``pg_advisory_xact_lock`` for the
  chain, so of several processes starting at once one migrates and the others wait, then find the schema at
  head and do nothing (DDL is transactional there: a failed upgrade leaves nothing half done).
* SQLite (one machine): an exclusive ``flock`` on ``<db file>-migrate.lock`` beside the database (a file of its
  own: opening and closing the database file itself would drop SQLite's own POSIX locks).

A database made by ``create_all`` before migrations existed (tables, no ``alembic_version``) is adopted: the
baseline revision creates only what is missing (tables, columns and indexes added since), keeps every row, and
Alembic records the baseline; later revisions then run as usual.

Commands (the same for both venvs; the engine's has SQLAlchemy 1.4, the gateway's 2.1)::

    python -m common.migrate [--url URL] [upgrade|current|check]      # the assistant DB
    python -m gateway.storage.migrate [--url URL] [upgrade|current|check]   # the gateway DB
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import sqlalchemy as sa

from common.advisory import lock_key

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
LOCK_CLASS = 0x5a_70_03  # advisory lock class of migrations (jobs: 0x5a7001, LINE chats: 0x5a7002)
logger = logging.getLogger(__name__)


CHAINS = ("gateway", "assistant")


def version_table(chain: str) -> str:
    """Each chain records its revision in a table of its own, so both can share one database."""
    return f"alembic_version_{chain}"


def config(chain: str, connection: Optional[sa.engine.Connection] = None):
    """An Alembic config for ``migrations/<chain>`` (no ini file needed); env.py takes ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / chain))
    cfg.set_main_option("chain", chain)
    cfg.attributes["connection"] = connection
    return cfg


def run_env(context, target_metadata, chain: str) -> None:
    """The body of every chain's env.py: migrate on the connection common/migrate.py passes, else (the
    ``alembic`` command with an ini file, e.g. ``alembic -c migrations/gateway/alembic.ini revision
    --autogenerate``) on ``sqlalchemy.url`` or the chain's URL variable."""
    config = context.config

    def run(connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                          version_table=version_table(chain), include_name=_ours(chain),
                          render_as_batch=True)  # SQLite changes columns by copying the table
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(config.get_main_option("url_variable") or "")
    if not url:
        raise SystemExit("set sqlalchemy.url in the ini file or the database URL variable")
    engine = sa.create_engine(url, future=True)
    try:
        with engine.begin() as c:
            run(c)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _file_lock(engine: sa.engine.Engine, chain: str) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    path = Path(database).with_name(Path(database).name + "-migrate.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: sa.engine.Engine, chain: str, revision: str = "head") -> None:
    """Bring the database of ``engine`` to ``revision`` of ``migrations/<chain>``, serialized across processes."""
    quiet = logging.getLogger("alembic")
    if quiet.level == logging.NOTSET:  # ~20 INFO lines per start about plugins; our own line says what changed
        quiet.setLevel(logging.WARNING)
    from alembic import command

    with _file_lock(engine, chain), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                               {"a": LOCK_CLASS, "b": lock_key(chain)})
        before = current(connection, chain)
        if before is None and _has_tables(connection):
            logger.info("migrations %s: adopting a database made before migrations (baseline)", chain)
        command.upgrade(config(chain, connection), revision)
        after = current(connection, chain)
        if after != before:
            logger.info("migrations %s: %s -> %s", chain, before or "empty", after)


def current(connection: sa.engine.Connection, chain: str) -> Optional[str]:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection, opts={"version_table": version_table(chain)}) \
        .get_current_revision()


def heads(chain: str) -> List[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(config(chain)).get_heads())


def _has_tables(connection: sa.engine.Connection) -> bool:
    return any(not name.startswith("alembic_version") for name in sa.inspect(connection).get_table_names())


def _ours(chain: str):
    """Autogenerate's filter: leave out the other chains' tables (one database may hold both chains)."""
    def include_name(name, type_, parent_names) -> bool:
        if type_ != "table":
            return True
        if name.startswith("alembic_version"):
            return False
        return name not in _tables_of_other_chains(chain)
    return include_name


def _tables_of_other_chains(chain: str) -> set:
    others = set()
    if chain != "assistant":
        for metadata in assistant_metadata():
            others |= set(metadata.tables)
    if chain != "gateway":
        try:  # the engine's environment has no gateway package installed (only the files)
            from gateway.storage.db import load_tables
            others |= set(load_tables().tables)
        except ImportError:
            pass
    return others


def diff(engine: sa.engine.Engine, metadata, chain: str) -> list:
    """What differs between the database and the models' metadata (Alembic's compare_metadata; [] = none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "version_table": version_table(chain), "include_name": _ours(chain)})
        return compare_metadata(context, metadata)


def create_missing(connection: sa.engine.Connection, frozen: sa.MetaData) -> None:
    """The baseline's upgrade: create the tables of ``frozen`` (the schema as the baseline froze it) that are
    missing and, in tables made by an older ``create_all``, the columns and indexes added since (nullable or
    with a server default, as the old ``_add_missing_columns`` did). Rows are never touched."""
    inspector = sa.inspect(connection)
    present = set(inspector.get_table_names())
    for table in frozen.sorted_tables:
        if table.name not in present:
            table.create(connection)
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns:
                _add_column(connection, table, column)
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection)


def _add_column(connection: sa.engine.Connection, table: sa.Table, column: sa.Column) -> None:
    dialect = connection.dialect
    ddl = column.type.compile(dialect)
    clause = ""
    if column.server_default is not None:
        arg = column.server_default.arg
        default = (arg if arg.isdigit() else "'" + arg.replace("'", "''") + "'") if isinstance(arg, str) \
            else str(arg.compile(dialect=dialect))
        clause = f" NOT NULL DEFAULT {default}" if not column.nullable else f" DEFAULT {default}"
    logger.info("migrations: adding %s.%s", table.name, column.name)
    connection.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {ddl}{clause}"))


# ---- the assistant DB (bookings + unanswered log) ----

def assistant_metadata() -> list:
    import importlib

    # by module path: the package common.booking exports a function named ``store``
    return [importlib.import_module("common.booking.store").metadata,
            importlib.import_module("common.unanswered").metadata]


def main(argv: Optional[List[str]] = None, chain: str = "assistant", default_url=None, metadata=None,
         connect=None) -> int:
    """``upgrade`` (default), ``current`` (prints the revision) or ``check`` (exit 1 when not at head or the
    tables differ from the models)."""
    parser = argparse.ArgumentParser(prog=f"migrate {chain}", description=f"Alembic migrations of the {chain} DB")
    parser.add_argument("action", nargs="?", default="upgrade", choices=["upgrade", "current", "check"])
    parser.add_argument("--url", help="database URL (default: from the environment)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if default_url is None:
        from common.booking.store import default_url
    url = args.url or default_url()
    engine = (connect or _plain_engine)(url)
    try:
        if args.action == "upgrade":
            upgrade(engine, chain)
        with engine.connect() as connection:
            revision = current(connection, chain)
        print(f"{chain}: {revision or 'empty'} (head {', '.join(heads(chain))})")
        if args.action == "check":
            differences = diff(engine, metadata() if metadata else assistant_metadata(), chain)
            for item in differences:
                print("differs:", item)
            return 0 if revision in heads(chain) and not differences else 1
        return 0
    finally:
        engine.dispose()


def _plain_engine(url: str) -> sa.engine.Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, future=True)


if __name__ == "__main__":
    sys.exit(main())
