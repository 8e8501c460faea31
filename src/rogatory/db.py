"""Database plumbing: the declarative base, a UTC datetime column type, engines for SQLite and
PostgreSQL, the one place a unit of work commits, and the hot paths' statements run on the
driver's cursor (`driver_execute`, `driver_sql`) with their rows made ORM instances (`loaded`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, Select, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, NoResultFound
from sqlalchemy.orm import DeclarativeBase, Session, class_mapper, sessionmaker
from sqlalchemy.sql.expression import UpdateBase
from sqlalchemy.types import TypeDecorator

from rogatory.clock import ensure_utc
from rogatory.config import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite stores it naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use an aware UTC datetime")
        aware = ensure_utc(value)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(settings: Settings) -> Engine:
    """An engine for the settings' database; SQLite gets foreign keys and WAL."""
    url = settings.effective_database_url
    # No cap on overflow connections: a capped pool deadlocks under load when requests that hold
    # a connection wait for a worker thread held by requests waiting for a connection. The
    # number of connections stays bounded by the requests in flight (put a limit on those in
    # front of the node, e.g. uvicorn's --limit-concurrency or a connection pooler).
    kwargs: dict[str, Any] = {"future": True, "pool_size": 10, "max_overflow": -1}
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
    elif settings.database_schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={settings.database_schema}"}
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- statements on the hot paths ----------------------------------------------------------------


M = TypeVar("M", bound=Base)


def loaded(cls: type[M], values: Mapping[str, Any]) -> M:
    """An instance of a mapped class holding `values` the way a row loaded by the ORM does:
    straight into its attribute dictionary, with no change history (the mapper's own
    `ClassManager.new_instance`), at a twentieth of the constructor's cost. For rows read or
    written by driver-level statements; `make_transient_to_detached` then makes it a stored
    row a session can take."""
    instance: M = class_mapper(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


Statement = UpdateBase | Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # in the driver's order
    constants: dict[str, Any]  # values written into the statement, e.g. `id == 1`
    keys: tuple[str, ...]  # of the columns returned (SELECT, RETURNING)
    results: tuple[Callable[[Any], Any] | None, ...] | None  # theirs; None: no column has one


@functools.cache
def _compiled(dialect: Dialect, statement: Statement, keys: frozenset[str]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    constants = {n: compiled.binds[n].value for n in names
                 if n not in keys and not compiled.binds[n].required}
    missing = [n for n in names if n not in keys and n not in constants]
    if missing:  # the driver applies no column defaults: every value must be given
        raise KeyError(f"no value for {missing} in {statement}")
    returned = (statement.selected_columns if isinstance(statement, Select)
                else statement.exported_columns)
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in returned]
    return _Compiled(
        sql=str(compiled), positional=compiled.positional,
        binds=tuple((n, compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect))
                    for n in names),
        constants=constants,
        keys=tuple(str(c.key) for c in returned),
        results=tuple(processors) if any(processors) else None,
    )


class DriverResult:
    """What a driver-level statement gave back: its row count and its rows (of a SELECT or a
    RETURNING), fetched at once, each value through its column type's result processor."""

    def __init__(self, compiled: _Compiled, rowcount: int, rows: Sequence[Sequence[Any]]) -> None:
        self.rowcount = rowcount
        self.keys = compiled.keys
        processors = compiled.results
        self.rows: list[tuple[Any, ...]] = (
            [tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows]
            if processors else [tuple(row) for row in rows])

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise NoResultFound(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]

    def mappings(self) -> list[dict[str, Any]]:
        return [dict(zip(self.keys, row, strict=True)) for row in self.rows]

    def first_mapping(self) -> dict[str, Any] | None:
        return dict(zip(self.keys, self.rows[0], strict=True)) if self.rows else None


def driver_execute(connection: Connection, statement: Statement,
                   params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> DriverResult:
    """Run a statement built once at import (INSERT, UPDATE, DELETE or SELECT) on the driver's
    cursor: it is compiled once per dialect and set of keys, values go through their column
    types' bind processors (JSON, UTC datetimes) and results through their result processors,
    and SQLAlchemy's per-execution work — which costs more than SQLite's own on the request hot
    path — is skipped. Every bound value must be given (no column defaults are applied).
    Several rows run as one executemany, without results. Driver errors are raised as
    SQLAlchemy's (`IntegrityError`, ...). When the engine has cursor-execution listeners
    (statement counters, loggers), the statement goes through SQLAlchemy so that they see it.

    The connection must be in a transaction (`Session.connection()` begins one)."""
    rows = [params] if isinstance(params, Mapping) else list(params)
    compiled = _compiled(connection.dialect, statement, frozenset(rows[0]))

    def driver_row(given: Mapping[str, Any]) -> Any:
        row = {**compiled.constants, **given} if compiled.constants else given
        values = [(p(row[n]) if p else row[n]) for n, p in compiled.binds]
        if compiled.positional:
            return tuple(values)
        return {n: v for (n, _), v in zip(compiled.binds, values, strict=True)}

    if len(rows) == 1:
        rowcount, fetched = driver_sql(connection, compiled.sql, driver_row(rows[0]))
    else:
        rowcount, fetched = driver_sql(connection, compiled.sql, [driver_row(r) for r in rows],
                                       many=True)
    return DriverResult(compiled, rowcount, fetched)


def driver_sql(connection: Connection, sql: str, params: Any, *,
               many: bool = False) -> tuple[int, Sequence[Sequence[Any]]]:
    """Run SQL with parameters the driver takes as they are (one set, or a list of sets with
    `many`) on the connection's cursor; returns the row count and the rows. Through
    SQLAlchemy's execution path when the engine has cursor-execution listeners, so that
    statement counters and loggers see every statement; driver errors raised as SQLAlchemy's."""
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        result = connection.exec_driver_sql(sql, params)
        return result.rowcount, result.all() if result.returns_rows else []
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        fetched = cursor.fetchall() if cursor.description else []
        return cursor.rowcount, fetched
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi.Error,
                                  dialect=connection.dialect) from exc
    finally:
        cursor.close()
