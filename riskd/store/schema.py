"""riskd's SQL tables (SQLAlchemy Core), portable between SQLite and MySQL/MariaDB.

Times are epoch milliseconds in BIGINT columns named ``*_ms``. Money and quantities are
:class:`Money`: exact ``DECIMAL(36, 18)`` on MySQL, decimal text on SQLite (whose NUMERIC is
a float), ``Decimal`` in Python either way. Exchange ids (tranId, tradeId, orderId) are BIGINT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Dialect,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    inspect,
    select,
    update,
)
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeDecorator, TypeEngine

from riskd.store.dml import insert_ignore

SCHEMA_VERSION: Final = 7

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Binary collation, so that keys compare byte for byte on MySQL as they do on SQLite.
_MYSQL_OPTIONS: Final = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

schema_meta = Table(
    "schema_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)


class Money(TypeDecorator[Decimal]):
    """An exact decimal: DECIMAL(36, 18) on MySQL, its text on SQLite."""

    impl = Numeric(36, 18, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(36, 18, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"Money takes a Decimal, not {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def _id() -> Column[int]:
    # BIGINT on MySQL; INTEGER on SQLite, where only an INTEGER PRIMARY KEY autoincrements.
    return Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


# --- exchange reference data -----------------------------------------------------------------

symbols = Table(
    "symbols",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("tick_size", Money, nullable=False),
    Column("step_size", Money, nullable=False),
    Column("min_qty", Money, nullable=False),
    Column("min_notional", Money, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

# --- market data ------------------------------------------------------------------------------

# Closed klines, each field as Binance sent it (decimal text, not Money), so that they are
# served back exactly: "60000.10" stays "60000.10".
klines = Table(
    "klines",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("interval", String(8), primary_key=True),
    Column("open_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("close_ms", BigInteger, nullable=False),
    Column("open", String(40), nullable=False),
    Column("high", String(40), nullable=False),
    Column("low", String(40), nullable=False),
    Column("close", String(40), nullable=False),
    Column("volume", String(40), nullable=False),
    Column("quote_volume", String(40), nullable=False),
    Column("trades", BigInteger, nullable=False),
    Column("taker_buy_volume", String(40), nullable=False),
    Column("taker_buy_quote_volume", String(40), nullable=False),
    Column("unused", String(40), nullable=False),  # Binance's 12th field, "Ignore"
    Column("stored_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

# --- robots' orders ---------------------------------------------------------------------------

# Every order a robot sent through the pre-trade gate: passed (with the exchange's order id once
# placed) or refused (with the reason). Kept, never updated but to add the order id.
order_decisions = Table(
    "order_decisions",
    metadata,
    _id(),
    Column("account", String(64), nullable=False),
    Column("robot", String(16), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("position_side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("quantity", Money, nullable=False),
    Column("price", Money, nullable=True),
    Column("reduce_only", Boolean, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("refusal", String(32), nullable=True),
    Column("detail", String(512), nullable=False),
    Column("client_order_id", String(36), nullable=True),
    Column("order_id", BigInteger, nullable=True),
    Column("decided_ms", BigInteger, nullable=False),
    Index(None, "account", "decided_ms"),
    Index(None, "robot", "decided_ms"),
    **_MYSQL_OPTIONS,
)

# --- emergency flattens -----------------------------------------------------------------------

# Every flatten an operator asked for (riskd.protect.flatten): written when it starts (outcome
# "running", no end) and once more when it ends, with its report.
flattens = Table(
    "flattens",
    metadata,
    _id(),
    Column("account", String(64), nullable=False),
    Column("scope", String(64), nullable=False),  # "account", "symbol X", "robot R[ on X]"
    Column("operator", String(64), nullable=False),
    Column("reason", String(512), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),  # None: running, or the Trader died
    Column("outcome", String(16), nullable=False),  # running | flat | incomplete
    # The report as JSON ("{}" while running); MEDIUMTEXT on MySQL: a flatten of many
    # positions sends many slices.
    Column("report", Text(2**24 - 1), nullable=False),
    Index(None, "account", "started_ms"),
    **_MYSQL_OPTIONS,
)

# --- the ledger ------------------------------------------------------------------------------

income = Table(
    "income",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("tran_id", BigInteger, primary_key=True, autoincrement=False),
    Column("income_type", String(32), primary_key=True),
    Column("symbol", String(32), nullable=False),  # "" for account-wide flows
    Column("asset", String(16), nullable=False),
    Column("amount", Money, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("trade_id", String(32), nullable=False),  # "" when not from a trade
    Column("info", String(128), nullable=False),
    Column("booked_at_ms", BigInteger, nullable=False),
    Index(None, "account", "time_ms"),
    **_MYSQL_OPTIONS,
)

fills = Table(
    "fills",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("trade_id", BigInteger, primary_key=True, autoincrement=False),
    Column("order_id", BigInteger, nullable=False),
    Column("client_order_id", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("position_side", String(8), nullable=False),
    Column("order_type", String(32), nullable=False),  # the original type (ot): STOP_MARKET …
    Column("price", Money, nullable=False),
    Column("qty", Money, nullable=False),
    Column("realized_pnl", Money, nullable=False),
    Column("commission", Money, nullable=False),  # as the stream sends it: positive is paid
    Column("commission_asset", String(16), nullable=False),
    Column("maker", Boolean, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("booked_at_ms", BigInteger, nullable=False),
    Index(None, "account", "time_ms"),
    **_MYSQL_OPTIONS,
)

orders = Table(
    "orders",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("client_order_id", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("position_side", String(8), nullable=False),
    Column("order_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("price", Money, nullable=False),
    Column("orig_qty", Money, nullable=False),
    Column("executed_qty", Money, nullable=False),
    Column("update_time_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

position_snapshots = Table(
    "position_snapshots",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("minute_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("symbol", String(32), primary_key=True),
    Column("position_side", String(8), primary_key=True),
    Column("amount", Money, nullable=False),
    Column("entry_price", Money, nullable=False),
    Column("mark_price", Money, nullable=True),
    Column("unrealized_pnl", Money, nullable=True),
    **_MYSQL_OPTIONS,
)

balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("minute_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("asset", String(16), primary_key=True),
    Column("wallet_balance", Money, nullable=False),
    Column("unrealized_pnl", Money, nullable=True),  # None: no source reported it
    **_MYSQL_OPTIONS,
)

ledger_cursors = Table(
    "ledger_cursors",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("income_next_start_ms", BigInteger, nullable=False),  # the next page starts here
    Column("updated_at_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

# --- locks, trading state and the published ban list ----------------------------------------

locks = Table(
    "locks",
    metadata,
    _id(),
    Column("account", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),  # a symbol, or "ALL"
    Column("side", String(8), nullable=False),  # long | short | both
    Column("reason_code", String(32), nullable=False),
    Column("reason_text", String(512), nullable=False),
    Column("source", String(96), nullable=False),  # "rule:<id>" or "operator:<name>"
    # v6: the one robot the lock bans; "": every robot of the account
    Column("robot", String(16), nullable=False, server_default=""),
    Column("created_ms", BigInteger, nullable=False),
    Column("until_ms", BigInteger, nullable=True),  # None: until an operator unlocks it
    Column("active", Boolean, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
    Index(None, "account", "active"),
    **_MYSQL_OPTIONS,
)

lock_events = Table(
    "lock_events",
    metadata,
    _id(),
    Column("lock_id", BigInteger, nullable=False),
    Column("account", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # created | extended | expired | unlocked
    Column("actor", String(96), nullable=False),  # the rule or the operator
    Column("until_ms", BigInteger, nullable=True),
    Column("detail", String(512), nullable=False),
    Index(None, "lock_id"),
    Index(None, "account", "at_ms"),
    **_MYSQL_OPTIONS,
)

trading_states = Table(
    "trading_states",
    metadata,
    _id(),
    Column("account", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # ACTIVE | REDUCING | HALTED
    Column("reason", String(512), nullable=False),
    Column("actor", String(96), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index(None, "account", "at_ms"),
    **_MYSQL_OPTIONS,
)

banlist_versions = Table(
    "banlist_versions",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("generated_at_ms", BigInteger, nullable=False),
    Column("valid_until_ms", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # the published JSON
    **_MYSQL_OPTIONS,
)

# --- alerts: the Alerter's state, its notification log and outbox, and silences ---------------

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the alert as JSON (riskd.notify.alert_store)
    Column("updated_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

alert_groups = Table(
    "alert_groups",
    metadata,
    Column("group_key", String(16), primary_key=True),
    Column("body", Text, nullable=False),  # the group's notification log as JSON
    Column("due_ms", BigInteger, nullable=False),
    **_MYSQL_OPTIONS,
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    _id(),
    Column("receiver", String(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("notification", Text, nullable=False),  # JSON
    Column("status", String(8), nullable=False),  # pending | sent | failed
    Column("batch_uuid", String(64), nullable=True),  # set before the first send attempt
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger, nullable=True),
    Column("last_error", String(512), nullable=False),
    Index(None, "receiver", "status", "id"),
    **_MYSQL_OPTIONS,
)

alert_once = Table(
    "alert_once",
    metadata,
    Column("fingerprint", String(16), primary_key=True),  # of an alert told once, ever
    Column("name", String(64), nullable=False),
    Column("labels", Text, nullable=False),  # JSON object
    Column("told_ms", BigInteger, nullable=False),
    Index(None, "name", "told_ms"),
    **_MYSQL_OPTIONS,
)

silences = Table(
    "silences",
    metadata,
    _id(),
    Column("matchers", Text, nullable=False),  # JSON list of {label, op, value}
    Column("starts_ms", BigInteger, nullable=False),
    Column("ends_ms", BigInteger, nullable=False),
    Column("created_by", String(96), nullable=False),
    Column("comment", String(512), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expired_by", String(96), nullable=True),  # who ended it early
    Index(None, "ends_ms"),
    **_MYSQL_OPTIONS,
)

_VERSION_KEY: Final = "schema_version"
_SCHEMA_LOCK: Final = "riskd_schema"
_SCHEMA_LOCK_WAIT_S: Final = 60


class SchemaVersionError(RuntimeError):
    """The database holds a schema version this riskd cannot use."""


def init_schema(engine: Engine, now_ms: int) -> list[str]:
    """Create the missing tables and record SCHEMA_VERSION; return the tables created.

    Idempotent; upgrades an older schema (changes so far add tables, and columns with a server
    default: v6 ``locks.robot``). Raises
    SchemaVersionError, before changing anything, if the database records a newer version.
    """
    with engine.begin() as connection, _schema_lock(connection):
        existing = set(inspect(connection).get_table_names())
        if schema_meta.name in existing:
            stored = connection.scalar(
                select(schema_meta.c.value).where(schema_meta.c.key == _VERSION_KEY)
            )
            if stored is not None and not (stored.isdigit() and int(stored) <= SCHEMA_VERSION):
                raise SchemaVersionError(
                    f"database schema version is {stored}, this riskd uses {SCHEMA_VERSION}"
                )
        metadata.create_all(connection)
        _add_columns(connection, existing)
        row = {"key": _VERSION_KEY, "value": str(SCHEMA_VERSION), "updated_at_ms": now_ms}
        connection.execute(insert_ignore(schema_meta, [row], connection.dialect.name))
        connection.execute(
            update(schema_meta)
            .where(schema_meta.c.key == _VERSION_KEY, schema_meta.c.value != str(SCHEMA_VERSION))
            .values(value=str(SCHEMA_VERSION), updated_at_ms=now_ms)
        )
    return [table.name for table in metadata.sorted_tables if table.name not in existing]


@contextlib.contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's schema lock: every actor that stores rows runs init_schema as it
    starts, and on MySQL/MariaDB each CREATE TABLE commits at once, so two starting together on
    a fresh database both found a table missing and the second failed with 1050 "already
    exists". SQLite's write lock (BEGIN IMMEDIATE) already serializes them."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    taken = connection.exec_driver_sql(
        f"SELECT GET_LOCK('{_SCHEMA_LOCK}', {_SCHEMA_LOCK_WAIT_S})"
    ).scalar()
    if taken != 1:
        raise TimeoutError(f"the schema lock was held for over {_SCHEMA_LOCK_WAIT_S} s")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"SELECT RELEASE_LOCK('{_SCHEMA_LOCK}')")


def _add_columns(connection: Connection, existing: set[str]) -> None:
    """Add the columns a newer schema added to tables that already existed (each with a server
    default, so that the rows stored keep their meaning)."""
    inspector = inspect(connection)
    quote = connection.dialect.identifier_preparer.format_table
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                assert column.server_default is not None, f"{column} needs a server default"
                spec = CreateColumn(column).compile(dialect=connection.dialect)
                connection.execute(DDL(f"ALTER TABLE {quote(table)} ADD COLUMN {spec}"))
