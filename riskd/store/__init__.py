"""riskd's SQL store: SQLAlchemy Core tables and statements for SQLite and MySQL/MariaDB."""

from riskd.store.dml import insert_ignore
from riskd.store.engine import SqlRunner, error_line, make_engine
from riskd.store.schema import SCHEMA_VERSION, SchemaVersionError, init_schema, metadata
from riskd.store.write_queue import WriteQueue

__all__ = [
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "SqlRunner",
    "WriteQueue",
    "error_line",
    "init_schema",
    "insert_ignore",
    "make_engine",
    "metadata",
]
