"""Typed, frozen riskd configuration, loaded from TOML and the environment.

Secrets never appear in the file. It names the environment variables (``*_env``) or files
(``*_file``) that hold them, and validation resolves those into :class:`Secret` values once,
at load time, exposed as read-only properties (``AccountConfig.api_key``, …). Relative
``*_file`` paths are relative to the directory of the config file. The config file and the
secret files must be private to their owner (0600 or 0400): one open to group or others is
refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from riskd.core.files import FileRefused, read_private_text
from riskd.core.frozen import FrozenModel
from riskd.core.secrets import (
    EnvVarName,
    Secret,
    SecretSources,
    invalid,
    matching,
    not_loaded,
    secret_from_refs,
)
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.planning import BudgetPlanConfig
from riskd.gateway.config import GatewayConfig
from riskd.market.config import MarketConfig
from riskd.notify.config import AlertsConfig
from riskd.plan import AccountJobsConfig, DeploymentPlan, build_plan
from riskd.protect.flatten import FLATTEN_PREFIX, FlattenConfig
from riskd.protect.heartbeat import HeartbeatConfig
from riskd.protect.ladder import MARKET_REDUCE_PREFIX, RUNG_PREFIX, StopLadderConfig
from riskd.protect.reaper import REPLACEMENT_PREFIX, ReaperConfig
from riskd.risk.attribution import UNATTRIBUTED
from riskd.risk.ledger import LedgerConfig
from riskd.risk.rules import RulesConfig
from riskd.sim.config import SimConfig
from riskd.store.config import DatabaseConfig
from riskd.trade.config import GATEWAY_PREFIX, LimitsConfig, RobotConfig

RISKD_PREFIXES: Final = (
    GATEWAY_PREFIX,
    RUNG_PREFIX,
    MARKET_REDUCE_PREFIX,
    REPLACEMENT_PREFIX,
    FLATTEN_PREFIX,
)
"""The client-id prefixes of the orders riskd places itself: no robot's may overlap them."""


class ConfigError(Exception):
    """The configuration cannot be loaded; the message names the file and every bad key."""


Name = Annotated[str, matching(r"[A-Za-z0-9_-]{1,64}", "1 to 64 letters, digits, '-' or '_'")]


class DeploymentConfig(FrozenModel):
    """Identity of this deployment; ``name`` is also its Ray namespace."""

    name: Name = "riskd"


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
    limits: LimitsConfig = LimitsConfig()
    """Limits on every robot's orders on this account, together."""
    flatten: FlattenConfig = FlattenConfig()
    """How the emergency flatten (``riskd flatten``) confirms and retries."""
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
    market: MarketConfig | None = None
    """The shared market feed; none without a ``[market]`` table."""
    robots: tuple[RobotConfig, ...] = ()

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

    @model_validator(mode="after")
    def _robots_name_accounts(self) -> RiskdConfig:
        accounts = {account.name for account in self.accounts}
        seen: set[str] = set()
        prefixes: dict[tuple[str, str], str] = {}  # (account, prefix) -> robot
        for index, robot in enumerate(self.robots):
            for prefix in robot.client_id_prefixes:
                where = ("robots", index, "client_id_prefixes")
                for own in RISKD_PREFIXES:
                    if prefix.startswith(own) or own.startswith(prefix):
                        raise invalid(f"{prefix!r} overlaps riskd's own prefix {own!r}", *where)
                for (account, other), owner in prefixes.items():
                    if (
                        account == robot.account
                        and owner != robot.name
                        and (prefix.startswith(other) or other.startswith(prefix))
                    ):
                        raise invalid(
                            f"{prefix!r} overlaps robot {owner}'s {other!r}: an order could"
                            " be either's",
                            *where,
                        )
                prefixes[(robot.account, prefix)] = robot.name
            if robot.name in seen:
                raise invalid(f"duplicate robot name {robot.name!r}", "robots", index, "name")
            if robot.name == UNATTRIBUTED:
                where = ("robots", index, "name")
                raise invalid(f"{UNATTRIBUTED!r} names the orders of no robot", *where)
            seen.add(robot.name)
            if robot.account not in accounts:
                raise invalid(
                    f"names no account of this config ({', '.join(sorted(accounts)) or 'none'})",
                    "robots",
                    index,
                    "account",
                )
        return self

    def plan(self) -> DeploymentPlan:
        """The jobs to run; raises OverSubscribedError if an egress IP cannot carry them."""
        accounts = [(a.name, a.jobs) for a in self.accounts]
        return build_plan(accounts, self.budgets, self.market)


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
    return load_config_text(read_config_text(path), str(path), path.parent, env, secrets)


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


def read_config_text(path: Path) -> str:
    """The text of the config file at *path*: ConfigError if it cannot be read, or if its
    group or others may read or write it (``riskd.core.files``)."""
    try:
        return read_private_text(path)
    except FileRefused as exc:
        raise ConfigError(f"config: {exc}") from None


def _key_path(loc: tuple[str | int, ...]) -> str:
    """Render a pydantic location as a key: ``("accounts", 1, "name")`` → ``accounts[1].name``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
