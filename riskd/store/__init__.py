"""riskd's SQL store: SQLAlchemy Core tables and statements for SQLite and MySQL/MariaDB.

Import the modules themselves (``riskd.store.engine``, ``riskd.store.schema`` …): this package
imports nothing, so that a process needing only ``riskd.store.config`` or ``.errors`` does not
load SQLAlchemy.
"""
