"""Typed, frozen configuration of the Binance USDⓈ-M futures simulator."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, StrictBool, field_validator

from riskd.core.frozen import FrozenModel


class SimApiRestrictions(FrozenModel):
    """What a simulated account's API key may do, as ``GET /sapi/v1/account/apiRestrictions``
    answers it: safe by default (reading and futures trading, IP-restricted, no withdrawals).
    The trading authority's end (epoch ms) is reported only when set."""

    ip_restrict: StrictBool = True
    enable_reading: StrictBool = True
    enable_withdrawals: StrictBool = False
    enable_internal_transfer: StrictBool = False
    enable_margin: StrictBool = False
    enable_futures: StrictBool = True
    permits_universal_transfer: StrictBool = False
    enable_vanilla_options: StrictBool = False
    enable_spot_and_margin_trading: StrictBool = False
    enable_portfolio_margin_trading: StrictBool = False
    trading_authority_expiration_ms: int | None = Field(None, ge=1, strict=True)


class SimAccountConfig(FrozenModel):
    """One simulated account. Credentials here are test fixtures, not secrets."""

    name: str
    api_key: str
    api_secret: str = Field(repr=False)
    usdt_balance: Decimal = Decimal("100000")
    dual_side_position: bool = False
    api_restrictions: SimApiRestrictions = SimApiRestrictions()

    @classmethod
    def parse(cls, spec: str) -> SimAccountConfig:
        """Parse the CLI form ``KEY:SECRET``; the account is named after its key."""
        key, sep, secret = spec.partition(":")
        if not sep or not key or not secret:
            raise ValueError(f"--account must look like KEY:SECRET (got key {key!r})")
        return cls(name=key, api_key=key, api_secret=secret)


class RateLimitConfig(FrozenModel):
    """Binance's REQUEST_WEIGHT (per source IP) and ORDERS (per account) limits."""

    weight_per_minute: int = Field(2400, gt=0)
    orders_per_10s: int = Field(300, gt=0)
    orders_per_minute: int = Field(1200, gt=0)
    # Requests an IP may send while already rate-limited before it is banned (418).
    requests_while_limited_before_ban: int = Field(20, ge=0)
    first_ban_ms: int = Field(120_000, gt=0)
    # Repeat offenders: each further ban lasts this many times longer, up to max_ban_ms.
    ban_growth_factor: int = Field(2, ge=1)
    max_ban_ms: int = Field(3 * 24 * 3600 * 1000, gt=0)


class SimExchangeConfig(FrozenModel):
    """Trading rules of the simulated exchange."""

    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0005")
    default_leverage: int = Field(20, ge=1, le=125)
    funding_interval_ms: int = Field(8 * 3600 * 1000, gt=0)
    funding_rate: Decimal = Decimal("0.0001")
    listen_key_ttl_ms: int = Field(60 * 60 * 1000, gt=0)
    ws_max_lifetime_ms: int = Field(24 * 3600 * 1000, gt=0)
    max_algo_orders_per_account: int = Field(200, gt=0)
    max_algo_orders_per_symbol: int = Field(100, gt=0)
    max_open_orders_per_symbol: int = Field(200, gt=0)
    # Mark-price random walk: one step every walk_interval_ms (0 = prices move only when set).
    walk_interval_ms: int = Field(1000, ge=0)
    walk_step_bps: int = Field(5, ge=0)
    # Ticks of spread between the best bid and the best ask around the last price.
    spread_ticks: int = Field(1, ge=1)


MAX_SYMBOLS = 1000


class SimConfig(FrozenModel):
    """Everything `riskd sim` needs: where it listens, its seed, accounts and rules."""

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    seed: int = 0
    accounts: tuple[SimAccountConfig, ...] = (
        SimAccountConfig(name="sim", api_key="sim-key", api_secret="sim-secret"),
    )
    limits: RateLimitConfig = RateLimitConfig()
    exchange: SimExchangeConfig = SimExchangeConfig()
    # How often the matching engine checks triggers, countdowns, funding and expiries.
    tick_interval_ms: int = Field(20, gt=0)
    # Contracts listed: the first 4 are BTC, ETH, SOL and DOGE; more are generated (SIM001USDT…)
    # with varied filters and prices, deterministically for the seed.
    symbols: int = 4

    @field_validator("symbols")
    @classmethod
    def _symbol_count(cls, symbols: int) -> int:
        if not 1 <= symbols <= MAX_SYMBOLS:
            raise ValueError(f"symbols must be between 1 and {MAX_SYMBOLS} (got {symbols})")
        return symbols

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(
        cls, accounts: tuple[SimAccountConfig, ...]
    ) -> tuple[SimAccountConfig, ...]:
        if not accounts:
            raise ValueError("at least one account is required")
        for attr in ("name", "api_key"):
            values = [getattr(a, attr) for a in accounts]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"duplicate account {attr}: {', '.join(dupes)}")
        return accounts
