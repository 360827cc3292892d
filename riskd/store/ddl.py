"""MySQL DDL for riskd's tables, rendered from :mod:`riskd.store.schema`.

``python -m riskd.store.ddl > sql/schema.mysql.sql`` regenerates the checked-in copy.
"""

from __future__ import annotations

import sys

from sqlalchemy import Index
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import CreateIndex, CreateTable, ExecutableDDLElement

from riskd.store.schema import SCHEMA_VERSION, metadata

_HEADER = f"""\
-- Generated from riskd/store/schema.py by `python -m riskd.store.ddl > sql/schema.mysql.sql`.
-- Do not edit by hand. Schema version {SCHEMA_VERSION}.
"""


def mysql_ddl() -> str:
    """CREATE TABLE and CREATE INDEX statements for every table, in dependency order."""
    statements: list[ExecutableDDLElement] = []
    for table in metadata.sorted_tables:
        statements.append(CreateTable(table))
        statements.extend(CreateIndex(index) for index in sorted(table.indexes, key=_name))
    return _HEADER + "".join(f"\n{_render(statement)};\n" for statement in statements)


def _name(index: Index) -> str:
    return str(index.name)


def _render(statement: ExecutableDDLElement) -> str:
    text = str(statement.compile(dialect=mysql.dialect())).strip()
    return "\n".join(line.rstrip() for line in text.splitlines())


def main() -> None:
    """Write the DDL to stdout."""
    sys.stdout.write(mysql_ddl())


if __name__ == "__main__":
    main()
