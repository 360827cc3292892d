"""The [database] section: which SQL database riskd books into."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import PrivateAttr, field_validator
from pydantic_core import PydanticCustomError

from riskd.core.frozen import FrozenModel
from riskd.core.secrets import (
    EnvVarName,
    Secret,
    SecretSources,
    invalid,
    not_loaded,
    secret_from_env,
)

DEFAULT_DATABASE_URL: Final = "sqlite:///riskd.db"
SQLITE_MAX_ACCOUNTS: Final = 2
"""Beyond this many accounts, SQLite's one write lock makes riskd's writers queue (the soak at
10 accounts saw "database is locked"): such a deployment books into MySQL/MariaDB."""


class DatabaseConfig(FrozenModel):
    """The SQL database: a literal ``url``, or ``url_env`` naming the variable that holds it.

    The URL in use is :attr:`resolved_url`, a :class:`Secret` either way, because server URLs
    carry passwords. A literal ``url`` must not contain one.
    """

    url: str = DEFAULT_DATABASE_URL
    url_env: EnvVarName | None = None
    _resolved_url: Secret | None = PrivateAttr(None)

    @property
    def resolved_url(self) -> Secret:
        """The SQLAlchemy URL to connect to."""
        if self._resolved_url is None:
            raise not_loaded("database")
        return self._resolved_url

    @field_validator("url")
    @classmethod
    def _no_password(cls, url: str) -> str:
        try:
            password = urlsplit(url).password
        except ValueError:
            raise PydanticCustomError("url", "not a valid URL") from None
        if password is not None:
            raise PydanticCustomError("url", "contains a password: put the URL in url_env instead")
        return url

    def load_warning(self, accounts: int) -> str | None:
        """One line if SQLite is to serve more accounts than it carries well, else None."""
        if (
            self.url_env is not None
            or not self.url.startswith("sqlite")
            or accounts <= SQLITE_MAX_ACCOUNTS
        ):
            return None
        return (
            f"database.url: SQLite serves {accounts} accounts; every job of each writes through "
            f"its one lock, so writes wait and are retried: beyond {SQLITE_MAX_ACCOUNTS} "
            "accounts, book into MySQL/MariaDB (database.url_env)"
        )

    def model_post_init(self, context: Any, /) -> None:
        if self.url_env is None:
            self._resolved_url = Secret(_sqlite_beside_config(self.url, SecretSources.of(context)))
        elif "url" in self.model_fields_set:
            raise invalid("set either url or url_env, not both")
        elif SecretSources.of(context).wants("database"):
            self._resolved_url = secret_from_env(self.url_env, "url_env", SecretSources.of(context))


def _sqlite_beside_config(url: str, sources: SecretSources) -> str:
    """A relative SQLite path names a file beside the config, whichever process opens it."""
    prefix = "sqlite:///"
    path = url.removeprefix(prefix)
    if not url.startswith(prefix) or not path or path == ":memory:" or Path(path).is_absolute():
        return url
    return prefix + str((sources.base_dir / path).resolve())
