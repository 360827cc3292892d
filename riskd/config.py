"""Typed, frozen riskd configuration, loaded from TOML and the environment.

Secrets never appear in the file. It names the environment variables (``*_env``) or files
(``*_file``) that hold them, and validation resolves those into :class:`Secret` values once,
at load time, exposed as read-only properties (``AccountConfig.api_key``, …). Relative
``*_file`` paths are relative to the directory of the config file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from riskd.core.frozen import FrozenModel
from riskd.core.secrets import (
    EnvVarName,
    Secret,
    SecretSources,
    invalid,
    matching,
    not_loaded,
    secret_from_env,
    secret_from_refs,
)
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.planning import BudgetPlanConfig
from riskd.notify.config import AlertsConfig
from riskd.plan import AccountJobsConfig, DeploymentPlan, build_plan
from riskd.protect.heartbeat import HeartbeatConfig
from riskd.protect.ladder import StopLadderConfig
from riskd.protect.reaper import ReaperConfig
from riskd.risk.ledger import LedgerConfig
from riskd.risk.rules import RulesConfig
from riskd.sim.config import SimConfig

DEFAULT_DATABASE_URL: Final = "sqlite:///riskd.db"


class ConfigError(Exception):
    """The configuration cannot be loaded; the message names the file and every bad key."""


Name = Annotated[str, matching(r"[A-Za-z0-9_-]{1,64}", "1 to 64 letters, digits, '-' or '_'")]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DeploymentConfig(FrozenModel):
    """Identity of this deployment; ``name`` is also its Ray namespace."""

    name: Name = "riskd"


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


class AccountConfig(FrozenModel):
    """A Binance account. Its key and secret are read from env vars or files when loaded."""

    name: Name
    api_key_env: EnvVarName | None = None
    api_key_file: Path | None = None
    api_secret_env: EnvVarName | None = None
    api_secret_file: Path | None = None
    jobs: AccountJobsConfig = AccountJobsConfig()
    reaper: ReaperConfig = ReaperConfig()
    stop_ladder: StopLadderConfig = StopLadderConfig()
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    ledger: LedgerConfig = LedgerConfig()
    rules: RulesConfig = RulesConfig()
    _api_key: Secret | None = PrivateAttr(None)
    _api_secret: Secret | None = PrivateAttr(None)

    @property
    def api_key(self) -> Secret:
        """The API key, from ``api_key_env`` or ``api_key_file``."""
        if self._api_key is None:
            raise not_loaded(f"account {self.name}")
        return self._api_key

    @property
    def api_secret(self) -> Secret:
        """The API secret, from ``api_secret_env`` or ``api_secret_file``."""
        if self._api_secret is None:
            raise not_loaded(f"account {self.name}")
        return self._api_secret

    def model_post_init(self, context: Any, /) -> None:
        sources = SecretSources.of(context)
        if not sources.wants(f"account:{self.name}"):
            for key in ("api_key", "api_secret"):  # still exactly one source each
                if (getattr(self, f"{key}_env") is None) == (getattr(self, f"{key}_file") is None):
                    raise invalid(f"set exactly one of {key}_env and {key}_file")
            return
        self._api_key = secret_from_refs("api_key", self.api_key_env, self.api_key_file, sources)
        self._api_secret = secret_from_refs(
            "api_secret", self.api_secret_env, self.api_secret_file, sources
        )


class GatewayConfig(FrozenModel):
    """Where the gateway listens, and the env vars holding its access tokens.

    A host other than loopback requires both tokens: one for readers, one for operators.
    """

    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535)
    read_token_env: EnvVarName | None = None
    operator_token_env: EnvVarName | None = None
    _read_token: Secret | None = PrivateAttr(None)
    _operator_token: Secret | None = PrivateAttr(None)

    @property
    def read_token(self) -> Secret | None:
        """The token that lets a client read ban lists and market data."""
        return self._read_token

    @property
    def operator_token(self) -> Secret | None:
        """The token that lets an operator change state (unlock, silence, …)."""
        return self._operator_token

    def model_post_init(self, context: Any, /) -> None:
        if not is_loopback(self.host) and None in (self.read_token_env, self.operator_token_env):
            raise invalid(
                f"{self.host} is not loopback: set read_token_env and operator_token_env", "host"
            )
        sources = SecretSources.of(context)
        if not sources.wants("gateway"):
            return
        if self.read_token_env is not None:
            self._read_token = secret_from_env(self.read_token_env, "read_token_env", sources)
        if self.operator_token_env is not None:
            self._operator_token = secret_from_env(
                self.operator_token_env, "operator_token_env", sources
            )


class RiskdConfig(FrozenModel):
    """The whole configuration; every section is optional (defaults: one host, the simulator)."""

    deployment: DeploymentConfig = DeploymentConfig()
    database: DatabaseConfig = DatabaseConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    accounts: tuple[AccountConfig, ...] = ()
    gateway: GatewayConfig = GatewayConfig()
    alerts: AlertsConfig = AlertsConfig()
    budgets: BudgetPlanConfig = BudgetPlanConfig()
    sim: SimConfig = SimConfig()

    @model_validator(mode="before")
    @classmethod
    def _database_from_its_file(cls, data: Any) -> Any:
        """Validate the database table even when absent, so that the default SQLite file, too,
        lies beside the config file, not in whatever folder a process runs in."""
        if isinstance(data, dict) and "database" not in data:
            return {**data, "database": {}}
        return data

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, accounts: tuple[AccountConfig, ...]) -> tuple[AccountConfig, ...]:
        seen: set[str] = set()
        for index, account in enumerate(accounts):
            if account.name in seen:
                raise invalid(f"duplicate account name {account.name!r}", index, "name")
            seen.add(account.name)
        return accounts

    def plan(self) -> DeploymentPlan:
        """The jobs to run; raises OverSubscribedError if an egress IP cannot carry them."""
        return build_plan([(a.name, a.jobs) for a in self.accounts], self.budgets)


# pydantic's wording for these, in config terms.
_MESSAGES: Final = {"extra_forbidden": "unknown key", "missing": "missing required key"}


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] | None = None,
) -> RiskdConfig:
    """Load the TOML file at *path*, or the embedded defaults if None.

    Secret references resolve against *env*, ``os.environ`` if None; ``secrets`` names whose
    (as in :func:`load_config_text`; None: every one). Raises ConfigError naming the file and
    the dotted key of every problem found.
    """
    if path is None:
        return load_config_text("", "<defaults>", Path(), env, secrets)
    return load_config_text(_read_text(path), str(path), path.parent, env, secrets)


def load_config_text(
    text: str,
    source: str,
    base_dir: Path,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] | None = None,
) -> RiskdConfig:
    """Load config from TOML text (it holds no secrets, so it can be sent to other nodes).

    ``source`` names it in errors; relative ``*_file`` paths resolve against ``base_dir``.
    ``secrets`` names whose secrets to resolve (``"account:<name>"``, ``"gateway"``,
    ``"database"``, ``"feishu"``); None resolves every one.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    sources = SecretSources(
        env=os.environ if env is None else env,
        base_dir=base_dir,
        secrets=None if secrets is None else frozenset(secrets),
    )
    try:
        return RiskdConfig.model_validate(data, context=sources)
    except ValidationError as exc:
        # Not chained: the ValidationError would show raw input values, which may be secrets.
        raise ConfigError(
            "\n".join(
                f"{source}: {_key_path(error['loc'])}: {_MESSAGES.get(error['type'], error['msg'])}"
                for error in exc.errors(include_url=False, include_input=False)
            )
        ) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text") from None


def _key_path(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic location as a key: ``("accounts", 1, "name")`` → ``accounts[1].name``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
