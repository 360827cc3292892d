"""riskd's SQL tables (SQLAlchemy Core), portable between SQLite and MySQL/MariaDB.

Times are epoch milliseconds in BIGINT columns named ``*_ms``.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, inspect, select

from riskd.store.dml import insert_ignore

SCHEMA_VERSION: Final = 1

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

_VERSION_KEY: Final = "schema_version"


class SchemaVersionError(RuntimeError):
    """The database holds a schema version this riskd cannot use."""


def init_schema(engine: Engine, now_ms: int) -> list[str]:
    """Create the missing tables and record SCHEMA_VERSION; return the tables created.

    Idempotent. Raises SchemaVersionError, before changing anything, if the database records
    another schema version.
    """
    with engine.begin() as connection:
        existing = set(inspect(connection).get_table_names())
        if schema_meta.name in existing:
            stored = connection.scalar(
                select(schema_meta.c.value).where(schema_meta.c.key == _VERSION_KEY)
            )
            if stored is not None and stored != str(SCHEMA_VERSION):
                raise SchemaVersionError(
                    f"database schema version is {stored}, this riskd uses {SCHEMA_VERSION}"
                )
        metadata.create_all(connection)
        row = {"key": _VERSION_KEY, "value": str(SCHEMA_VERSION), "updated_at_ms": now_ms}
        connection.execute(insert_ignore(schema_meta, [row], connection.dialect.name))
    return [table.name for table in metadata.sorted_tables if table.name not in existing]
