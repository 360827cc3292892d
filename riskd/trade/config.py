"""``[[robots]]`` and the trading limits: who may trade through riskd, on which account, with
which symbols, and within which limits (per robot, and per account in ``[accounts.limits]``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field, PrivateAttr, field_validator

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

ROBOTS_SECRETS: Final = "robots"
"""The secrets owner whose load resolves every robot's token (the gateway's)."""

ROBOT_NAME: Final = r"[A-Za-z0-9_-]{1,16}"
"""What a robot's name is made of: ``[[robots]] name``."""
RobotName = Annotated[str, matching(ROBOT_NAME, "1 to 16 letters, digits, '-' or '_'")]
SYMBOL = r"[A-Z0-9]{1,20}"
GATEWAY_PREFIX: Final = "rb-"
"""Where the client ids of the orders riskd places for robots begin."""
CLIENT_ID_PREFIX = r"[.A-Za-z0-9:/_-]{1,30}"  # Binance's newClientOrderId alphabet


class LimitsConfig(FrozenModel):
    """Limits on the orders a robot (or every robot of an account) sends; None: no limit.

    Notional and exposure are in USDT at the order's price (the mark for market orders).
    Exposure is gross: the absolute positions plus the open orders that would add to them.
    """

    max_order_notional: Decimal | None = Field(None, gt=0)
    max_symbol_exposure: Decimal | None = Field(None, gt=0)
    max_account_exposure: Decimal | None = Field(None, gt=0)
    max_orders_per_second: int | None = Field(None, gt=0)
    price_band_bps: int | None = Field(500, gt=0, le=10_000)
    """A priced order must lie within this many basis points of the mark (fat finger)."""
    duplicate_window_ms: int = Field(2_000, ge=0)
    """The same symbol, side and quantity again within this window is refused unless the
    order says it is intended (0: no duplicate guard)."""


class RobotConfig(FrozenModel):
    """A robot that trades through riskd on one account. Its token, from ``token_env`` or
    ``token_file``, is its identity: the FMZ protocol's secret key, and what it writes its
    channels with. Its orders' client ids start with ``client_id_prefix``."""

    name: RobotName
    account: str
    token_env: EnvVarName | None = None
    token_file: Path | None = None
    symbols: tuple[Annotated[str, matching(SYMBOL, "a symbol like BTCUSDT")], ...] | None = None
    """Only these symbols (None: any)."""
    limits: LimitsConfig = LimitsConfig()
    max_notional_usdt: Decimal | None = Field(None, gt=0)
    """The robot's share of the shared wallet, as gross notional: its own positions (as its
    fills built them) at the mark, plus its own open orders that would add to them."""
    max_margin_usdt: Decimal | None = Field(None, gt=0)
    """Its share as margin in use: that notional over each symbol's leverage (1x where riskd
    does not know it)."""
    client_id_prefixes: tuple[
        Annotated[str, matching(CLIENT_ID_PREFIX, "1 to 30 of A-Z a-z 0-9 . : / _ -")], ...
    ] = ()
    """The client-id prefixes of the orders this robot sends to Binance directly (riskd
    attributes them, and their fills and PnL, to it)."""
    _token: Secret | None = PrivateAttr(None)

    @property
    def client_id_prefix(self) -> str:
        """What the client order ids riskd places for this robot begin with."""
        return f"{GATEWAY_PREFIX}{self.name}-"

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Every client-id prefix of this robot's orders: riskd's, then its own."""
        return (self.client_id_prefix, *self.client_id_prefixes)

    @property
    def token(self) -> Secret:
        if self._token is None:
            raise not_loaded(f"robot {self.name}")
        return self._token

    @field_validator("symbols")
    @classmethod
    def _some_symbols(cls, symbols: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if symbols is not None and not symbols:
            raise ValueError("leave symbols out to allow any, or name at least one")
        return symbols

    def model_post_init(self, context: Any, /) -> None:
        sources = SecretSources.of(context)
        if not sources.wants(ROBOTS_SECRETS):
            if (self.token_env is None) == (self.token_file is None):
                raise invalid("set exactly one of token_env and token_file")
            return
        self._token = secret_from_refs("token", self.token_env, self.token_file, sources)
