"""The simulated exchange: accounts, matching, algo triggers, positions, income, streams.

Pure state machine with an injected clock: the aiohttp server (``riskd.sim.server``) parses
requests, authenticates and rate-limits, then calls one method here per endpoint. Every change
an account would see on Binance's user-data stream is handed to ``emit(account, event)``.
"""

from __future__ import annotations

import random
import re
import string
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from riskd.sim import errors as err
from riskd.sim.config import SimAccountConfig, SimConfig
from riskd.sim.errors import BinanceError
from riskd.sim.market import DEFAULT_SYMBOLS, ZERO, Market, SymbolSpec, decimals, fixed, plain
from riskd.sim.orders import CONDITIONAL_TYPES, ORDER_TYPES, AlgoOrder, Order, Position
from riskd.sim.params import boolean, choice, dec, integer, json_list, opt, req

Params = Mapping[str, str]
Emit = Callable[[str, dict], None]

SIDES = ("BUY", "SELL")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
INCOME_WINDOW_MS = 7 * 24 * 3600 * 1000
INCOME_RETENTION_MS = 90 * 24 * 3600 * 1000
# Quantitative rules (apiTradingStatus): GTC cancellation ratio over a rolling window.
GCR_WINDOW_MS = 10 * 60 * 1000
GCR_REPORT_MIN_ORDERS = 20
GCR_LOCK_MIN_ORDERS = 150
GCR_TRIGGER = Decimal("0.99")
GCR_LOCK_MS = 10 * 60 * 1000
_ID_ALPHABET = string.ascii_letters + string.digits


# ---------------------------------------------------------------- accounts


@dataclass(slots=True)
class ListenKey:
    key: str
    account: str
    expires_ms: int


@dataclass(slots=True)
class Account:
    """One futures account (cross margin, USDT-margined)."""

    name: str
    api_key: str
    api_secret: str
    dual_side: bool
    wallet: Decimal
    wallet_update_ms: int
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    # Every order (for queries), the open ones per symbol, and clientOrderId -> newest orderId.
    orders: dict[int, Order] = field(default_factory=dict)
    open: dict[str, dict[int, Order]] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)
    # Initial margin held by open orders, kept up to date as they enter, fill and end.
    open_order_margin: Decimal = ZERO
    algo_orders: dict[int, AlgoOrder] = field(default_factory=dict)
    open_algos: dict[int, AlgoOrder] = field(default_factory=dict)
    # clientAlgoId -> newest algoId (an id may be reused once its earlier order is final).
    algo_client_ids: dict[str, int] = field(default_factory=dict)
    income: list[dict] = field(default_factory=list)
    leverage: dict[str, int] = field(default_factory=dict)
    # symbol -> (countdownTime ms, deadline ms)
    countdowns: dict[str, tuple[int, int]] = field(default_factory=dict)
    countdowns_fired: list[dict] = field(default_factory=list)
    gtc_placed: dict[str, deque[int]] = field(default_factory=dict)
    gtc_cancelled: dict[str, deque[int]] = field(default_factory=dict)
    locked_until: dict[str, int] = field(default_factory=dict)

    def position(self, symbol: str, position_side: str) -> Position:
        key = (symbol, position_side)
        if key not in self.positions:
            self.positions[key] = Position(symbol, position_side)
        return self.positions[key]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            return list(self.open.get(symbol, {}).values())
        return [o for orders in self.open.values() for o in orders.values()]

    def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.open_algos.values() if symbol is None or a.symbol == symbol]

    def open_order_with_client_id(self, client_id: str) -> Order | None:
        order = self.orders.get(self.client_ids.get(client_id, 0))
        return order if order is not None and order.open else None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order ready for the matching engine."""

    symbol: str
    side: str
    position_side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    reduce_only: bool
    client_order_id: str
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    orig_type: str | None = None
    stop_price: Decimal = ZERO
    close_position: bool = False


# ---------------------------------------------------------------- the exchange


class SimExchange:
    """Binance USDⓈ-M futures, in memory. Deterministic for a seed and a request sequence."""

    def __init__(
        self,
        config: SimConfig,
        clock: Callable[[], int],
        emit: Emit = lambda _account, _event: None,
    ) -> None:
        self.config = config
        self.rules = config.exchange
        self.clock = clock
        self.emit = emit
        now = clock()
        self.market = Market(
            DEFAULT_SYMBOLS, config.seed, self.rules.funding_rate, self.rules.walk_step_bps
        )
        self._rng = random.Random(config.seed)
        self._next_order_id = 4_000_000_000 + self._rng.randrange(10**8)
        self._next_algo_id = 1_000_000_000_000_000 + self._rng.randrange(10**9)
        # Above 2**53: clients that parse JSON numbers as doubles corrupt these ids.
        self._next_tran_id = 8_000_000_000_000_000_000 + self._rng.randrange(10**15)
        self._next_trade_id = 4_000_000_000 + self._rng.randrange(10**8)
        self.accounts: dict[str, Account] = {
            a.api_key: self._new_account(a, now) for a in config.accounts
        }
        self.listen_keys: dict[str, ListenKey] = {}
        interval = self.rules.funding_interval_ms
        self.next_funding_ms = now - now % interval + interval
        self._next_walk_ms = now + self.rules.walk_interval_ms

    def _new_account(self, spec: SimAccountConfig, now: int) -> Account:
        return Account(
            spec.name,
            spec.api_key,
            spec.api_secret,
            spec.dual_side_position,
            spec.usdt_balance,
            now,
        )

    # ------------------------------------------------------------ ids and lookups

    def _order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id

    def _algo_id(self) -> int:
        self._next_algo_id += 1
        return self._next_algo_id

    def _tran_id(self) -> int:
        self._next_tran_id += self._rng.randint(1, 1000)
        return self._next_tran_id

    def _trade_id(self) -> int:
        self._next_trade_id += 1
        return self._next_trade_id

    def _random_id(self, length: int) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    def account_by_key(self, api_key: str) -> Account | None:
        return self.accounts.get(api_key)

    def account_by_name(self, name: str) -> Account:
        for account in self.accounts.values():
            if account.name == name:
                return account
        raise KeyError(name)

    def spec(self, symbol: str | None) -> SymbolSpec:
        if symbol is None:
            raise err.mandatory("symbol")
        try:
            return self.market.specs[symbol]
        except KeyError:
            raise err.INVALID_SYMBOL from None

    def _optional_spec(self, params: Params) -> SymbolSpec | None:
        symbol = opt(params, "symbol")
        return None if symbol is None else self.spec(symbol)

    def _find_order(self, account: Account, params: Params, missing: BinanceError) -> Order:
        spec = self.spec(opt(params, "symbol"))
        order_id = integer(params, "orderId")
        client_id = opt(params, "origClientOrderId")
        if order_id is None and client_id is None:
            raise err.either_param("orderId", "origClientOrderId")
        if order_id is None:
            order_id = account.client_ids.get(client_id, 0)
        order = account.orders.get(order_id)
        if order is None or order.symbol != spec.symbol:
            raise missing
        return order

    def _find_algo(self, account: Account, params: Params, missing: BinanceError) -> AlgoOrder:
        algo_id = integer(params, "algoId")
        client_id = opt(params, "clientAlgoId")
        if algo_id is None and client_id is None:
            raise err.either_param("algoId", "clientAlgoId")
        if algo_id is None:
            algo_id = account.algo_client_ids.get(client_id, 0)
        algo = account.algo_orders.get(algo_id)
        if algo is None:
            raise missing
        return algo

    # ------------------------------------------------------------ market data

    def server_time(self) -> dict:
        return {"serverTime": self.clock()}

    def exchange_info(self) -> dict:
        limits = self.config.limits
        return {
            "timezone": "UTC",
            "serverTime": self.clock(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": limits.weight_per_minute,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": limits.orders_per_minute,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": limits.orders_per_10s,
                },
            ],
            "exchangeFilters": [],
            "assets": [
                {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
            ],
            "symbols": [
                spec.exchange_info(
                    self.rules.max_open_orders_per_symbol, self.rules.max_algo_orders_per_symbol
                )
                for spec in self.market.specs.values()
            ],
        }

    def klines(self, params: Params) -> list:
        spec = self.spec(opt(params, "symbol"))
        interval = req(params, "interval")
        units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
        match = re.fullmatch(r"(\d+)([mhdw])", interval)
        if not match:
            raise BinanceError(-1120, "Invalid interval.")
        interval_ms = int(match.group(1)) * units[match.group(2)]
        limit = integer(params, "limit", 500)
        if not 1 <= limit <= 1500:
            raise err.BAD_LIMIT
        end = integer(params, "endTime", self.clock())
        return self.market.klines(spec.symbol, interval_ms, limit, min(end, self.clock()))

    def depth(self, params: Params) -> dict:
        spec = self.spec(opt(params, "symbol"))
        limit = integer(params, "limit", 500)
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise err.BAD_LIMIT
        bids, asks = self.market.depth(spec.symbol, limit, self.rules.spread_ticks)
        now = self.clock()
        return {"lastUpdateId": now * 10, "E": now, "T": now, "bids": bids, "asks": asks}

    def _for_symbols(self, params: Params, render: Callable[[SymbolSpec], dict]) -> dict | list:
        spec = self._optional_spec(params)
        if spec is not None:
            return render(spec)
        return [render(s) for s in self.market.specs.values()]

    def book_ticker(self, params: Params) -> dict | list:
        def render(spec: SymbolSpec) -> dict:
            bid, ask = self.market.book(spec.symbol, self.rules.spread_ticks)
            qty = fixed(spec.min_qty * 100, spec.quantity_precision)
            return {
                "symbol": spec.symbol,
                "bidPrice": fixed(bid, spec.price_precision),
                "bidQty": qty,
                "askPrice": fixed(ask, spec.price_precision),
                "askQty": qty,
                "time": self.clock(),
            }

        return self._for_symbols(params, render)

    def ticker_24hr(self, params: Params) -> dict | list:
        now = self.clock()

        def render(spec: SymbolSpec) -> dict:
            rows = self.market.klines(spec.symbol, 3_600_000, 24, now)
            open_price = Decimal(rows[0][1])
            last = self.market.quotes[spec.symbol].last
            volume = sum(Decimal(r[5]) for r in rows)
            quote_volume = sum(Decimal(r[7]) for r in rows)
            change = last - open_price
            places = spec.price_precision
            return {
                "symbol": spec.symbol,
                "priceChange": fixed(change, places),
                "priceChangePercent": fixed(change / open_price * 100, 3),
                "weightedAvgPrice": fixed(quote_volume / volume if volume else last, places),
                "lastPrice": fixed(last, places),
                "lastQty": fixed(spec.min_qty, spec.quantity_precision),
                "openPrice": fixed(open_price, places),
                "highPrice": fixed(max(Decimal(r[2]) for r in rows), places),
                "lowPrice": fixed(min(Decimal(r[3]) for r in rows), places),
                "volume": fixed(volume, spec.quantity_precision),
                "quoteVolume": fixed(quote_volume, 2),
                "openTime": rows[0][0],
                "closeTime": now,
                "firstId": self._next_trade_id - 1000,
                "lastId": self._next_trade_id,
                "count": 1000,
            }

        return self._for_symbols(params, render)

    def premium_index(self, params: Params) -> dict | list:
        def render(spec: SymbolSpec) -> dict:
            quote = self.market.quotes[spec.symbol]
            return {
                "symbol": spec.symbol,
                "markPrice": fixed(quote.mark, 8),
                "indexPrice": fixed(quote.mark, 8),
                "estimatedSettlePrice": fixed(quote.mark, 8),
                "lastFundingRate": fixed(quote.funding_rate, 8),
                "interestRate": "0.00010000",
                "nextFundingTime": self.next_funding_ms,
                "time": self.clock(),
            }

        return self._for_symbols(params, render)

    # ------------------------------------------------------------ account views

    def _leverage(self, account: Account, symbol: str) -> int:
        return account.leverage.get(symbol, self.rules.default_leverage)

    def _margins(self, account: Account) -> dict[str, Decimal]:
        upnl = position_im = maint = ZERO
        for pos in account.positions.values():
            if not pos.amount:
                continue
            mark = self.market.quotes[pos.symbol].mark
            notional = abs(pos.amount) * mark
            upnl += pos.unrealized_pnl(mark)
            position_im += notional / self._leverage(account, pos.symbol)
            maint += notional * self.market.specs[pos.symbol].maint_margin_rate
        order_im = account.open_order_margin
        margin_balance = account.wallet + upnl
        available = max(ZERO, margin_balance - position_im - order_im)
        return {
            "upnl": upnl,
            "position_im": position_im,
            "order_im": order_im,
            "maint": maint,
            "margin_balance": margin_balance,
            "available": available,
        }

    def _liquidation_price(self, account: Account, pos: Position) -> Decimal:
        """Cross-margin liquidation price of a single position (other positions held)."""
        if not pos.amount:
            return ZERO
        rate = self.market.specs[pos.symbol].maint_margin_rate
        others = sum(
            (
                p.unrealized_pnl(self.market.quotes[p.symbol].mark)
                for p in account.positions.values()
                if p is not pos
            ),
            ZERO,
        )
        wallet = account.wallet + others
        denominator = rate * abs(pos.amount) - pos.amount
        price = (wallet - pos.amount * pos.entry_price) / denominator
        return max(ZERO, -price if denominator == 0 else price)

    def _totals(self, account: Account) -> dict:
        m = self._margins(account)
        total_im = m["position_im"] + m["order_im"]
        return {
            "totalInitialMargin": fixed(total_im, 8),
            "totalMaintMargin": fixed(m["maint"], 8),
            "totalWalletBalance": fixed(account.wallet, 8),
            "totalUnrealizedProfit": fixed(m["upnl"], 8),
            "totalMarginBalance": fixed(m["margin_balance"], 8),
            "totalPositionInitialMargin": fixed(m["position_im"], 8),
            "totalOpenOrderInitialMargin": fixed(m["order_im"], 8),
            "totalCrossWalletBalance": fixed(account.wallet, 8),
            "totalCrossUnPnl": fixed(m["upnl"], 8),
            "availableBalance": fixed(m["available"], 8),
            "maxWithdrawAmount": fixed(min(account.wallet, m["available"]), 8),
        }

    def _asset(self, account: Account, *, v2: bool) -> dict:
        m = self._margins(account)
        body = {
            "asset": "USDT",
            "walletBalance": fixed(account.wallet, 8),
            "unrealizedProfit": fixed(m["upnl"], 8),
            "marginBalance": fixed(m["margin_balance"], 8),
            "maintMargin": fixed(m["maint"], 8),
            "initialMargin": fixed(m["position_im"] + m["order_im"], 8),
            "positionInitialMargin": fixed(m["position_im"], 8),
            "openOrderInitialMargin": fixed(m["order_im"], 8),
            "crossWalletBalance": fixed(account.wallet, 8),
            "crossUnPnl": fixed(m["upnl"], 8),
            "availableBalance": fixed(m["available"], 8),
            "maxWithdrawAmount": fixed(min(account.wallet, m["available"]), 8),
        }
        if v2:
            body["marginAvailable"] = True
        body["updateTime"] = account.wallet_update_ms
        return body

    def _position_sides(self, account: Account) -> tuple[str, ...]:
        return ("LONG", "SHORT") if account.dual_side else ("BOTH",)

    def _all_positions(self, account: Account) -> list[Position]:
        """Every (symbol, side) in exchangeInfo order, zero positions included."""
        return [
            account.positions.get((symbol, side)) or Position(symbol, side)
            for symbol in self.market.specs
            for side in self._position_sides(account)
        ]

    def _position_numbers(self, account: Account, pos: Position) -> dict[str, Decimal]:
        mark = self.market.quotes[pos.symbol].mark
        notional = pos.amount * mark
        return {
            "mark": mark,
            "notional": notional,
            "upnl": pos.unrealized_pnl(mark),
            "im": abs(notional) / self._leverage(account, pos.symbol),
            "maint": abs(notional) * self.market.specs[pos.symbol].maint_margin_rate,
        }

    def account_v2(self, account: Account) -> dict:
        positions = []
        for pos in self._all_positions(account):
            spec = self.market.specs[pos.symbol]
            n = self._position_numbers(account, pos)
            positions.append(
                {
                    "symbol": pos.symbol,
                    "initialMargin": fixed(n["im"], 8),
                    "maintMargin": fixed(n["maint"], 8),
                    "unrealizedProfit": fixed(n["upnl"], 8),
                    "positionInitialMargin": fixed(n["im"], 8),
                    "openOrderInitialMargin": "0",
                    "leverage": str(self._leverage(account, pos.symbol)),
                    "isolated": False,
                    "entryPrice": plain(pos.entry_price),
                    "maxNotional": "250000",
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, spec.quantity_precision),
                    "updateTime": pos.update_time_ms,
                }
            )
        return {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **self._totals(account),
            "assets": [self._asset(account, v2=True)],
            "positions": positions,
        }

    def account_v3(self, account: Account) -> dict:
        positions = []
        for pos in self._all_positions(account):
            if not pos.amount:
                continue
            spec = self.market.specs[pos.symbol]
            n = self._position_numbers(account, pos)
            positions.append(
                {
                    "symbol": pos.symbol,
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, spec.quantity_precision),
                    "unrealizedProfit": fixed(n["upnl"], 8),
                    "isolatedMargin": "0",
                    "notional": fixed(n["notional"], 8),
                    "isolatedWallet": "0",
                    "initialMargin": fixed(n["im"], 8),
                    "maintMargin": fixed(n["maint"], 8),
                    "updateTime": pos.update_time_ms,
                }
            )
        return {
            **self._totals(account),
            "assets": [self._asset(account, v2=False)],
            "positions": positions,
        }

    def position_risk_v2(self, account: Account, params: Params) -> list:
        spec = self._optional_spec(params)
        rows = []
        for pos in self._all_positions(account):
            if spec is not None and pos.symbol != spec.symbol:
                continue
            pspec = self.market.specs[pos.symbol]
            n = self._position_numbers(account, pos)
            rows.append(
                {
                    "symbol": pos.symbol,
                    "positionAmt": fixed(pos.amount, pspec.quantity_precision),
                    "entryPrice": plain(pos.entry_price),
                    "breakEvenPrice": plain(pos.break_even_price),
                    "markPrice": fixed(n["mark"], 8),
                    "unRealizedProfit": fixed(n["upnl"], 8),
                    "liquidationPrice": plain(
                        self._liquidation_price(account, pos).quantize(Decimal("0.00000001"))
                    ),
                    "leverage": str(self._leverage(account, pos.symbol)),
                    "maxNotionalValue": "250000",
                    "marginType": "cross",
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": pos.position_side,
                    "notional": plain(n["notional"].quantize(Decimal("0.00000001"))),
                    "isolatedWallet": "0",
                    "updateTime": pos.update_time_ms,
                }
            )
        return rows

    def position_risk_v3(self, account: Account, params: Params) -> list:
        spec = self._optional_spec(params)
        with_orders = {o.symbol for o in account.open_orders()}
        rows = []
        for pos in self._all_positions(account):
            if spec is not None and pos.symbol != spec.symbol:
                continue
            if not pos.amount and pos.symbol not in with_orders:
                continue
            pspec = self.market.specs[pos.symbol]
            n = self._position_numbers(account, pos)
            rows.append(
                {
                    "symbol": pos.symbol,
                    "positionSide": pos.position_side,
                    "positionAmt": fixed(pos.amount, pspec.quantity_precision),
                    "entryPrice": plain(pos.entry_price),
                    "breakEvenPrice": plain(pos.break_even_price),
                    "markPrice": fixed(n["mark"], 8),
                    "unRealizedProfit": fixed(n["upnl"], 8),
                    "liquidationPrice": fixed(self._liquidation_price(account, pos), 8),
                    "isolatedMargin": "0",
                    "notional": fixed(n["notional"], 8),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": fixed(n["im"], 8),
                    "maintMargin": fixed(n["maint"], 8),
                    "positionInitialMargin": fixed(n["im"], 8),
                    "openOrderInitialMargin": "0",
                    "adl": 2 if pos.amount else 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": pos.update_time_ms,
                }
            )
        return rows

    def income(self, account: Account, params: Params) -> list:
        symbol = opt(params, "symbol")
        income_type = opt(params, "incomeType")
        limit = integer(params, "limit", 100)
        if not 1 <= limit <= 1000:
            raise err.BAD_LIMIT
        now = self.clock()
        end = integer(params, "endTime")
        start = integer(params, "startTime")
        if start is None:
            start = (end if end is not None else now) - INCOME_WINDOW_MS
        if end is None:
            end = now
        start = max(start, now - INCOME_RETENTION_MS)
        rows = [
            r
            for r in account.income
            if start <= r["time"] <= end
            and (symbol is None or r["symbol"] == symbol)
            and (income_type is None or r["incomeType"] == income_type)
        ]
        return [dict(r, income=fixed(r["income"], 8)) for r in rows[:limit]]

    def _book_income(
        self,
        account: Account,
        symbol: str,
        income_type: str,
        amount: Decimal,
        tran_id: int,
        trade_id: str = "",
    ) -> None:
        account.income.append(
            {
                "symbol": symbol,
                "incomeType": income_type,
                "income": amount,
                "asset": "USDT",
                "info": income_type,
                "time": self.clock(),
                "tranId": tran_id,
                "tradeId": trade_id,
            }
        )

    # ------------------------------------------------------------ orders: validation

    def _check_price(self, spec: SymbolSpec, price: Decimal) -> None:
        if decimals(price) > spec.price_precision:
            raise err.BAD_PRECISION
        if price % spec.tick_size:
            raise err.PRICE_TICK
        if price < spec.min_price:
            raise err.PRICE_BELOW_MIN
        if price > spec.max_price:
            raise err.PRICE_ABOVE_MAX

    def _check_quantity(self, spec: SymbolSpec, qty: Decimal, *, market: bool) -> None:
        if qty <= 0:
            raise err.QTY_NOT_POSITIVE
        if decimals(qty) > spec.quantity_precision:
            raise err.BAD_PRECISION
        if qty % spec.step_size:
            raise err.QTY_STEP
        if qty < spec.min_qty:
            raise err.qty_below_min(plain(spec.min_qty))
        max_qty = spec.market_max_qty if market else spec.max_qty
        if qty > max_qty:
            raise err.qty_above_max(plain(max_qty))

    def _position_side(self, account: Account, params: Params) -> str:
        side = opt(params, "positionSide") or "BOTH"
        if account.dual_side != (side in ("LONG", "SHORT")) or side not in (
            "BOTH",
            "LONG",
            "SHORT",
        ):
            raise err.POSITION_SIDE_MISMATCH
        return side

    def _closing_position(
        self, account: Account, symbol: str, side: str, position_side: str, reduce_only: bool
    ) -> Position | None:
        """The position an order reduces, or None if it opens or adds."""
        if position_side == "BOTH":
            pos = account.positions.get((symbol, "BOTH"))
            reducing = pos is not None and pos.amount and (pos.amount > 0) == (side == "SELL")
            if reduce_only and not reducing:
                raise err.REDUCE_ONLY_REJECT
            return pos if reducing else None
        closing = (position_side == "LONG") == (side == "SELL")
        if not closing:
            return None
        pos = account.positions.get((symbol, position_side))
        if pos is None or not pos.amount:
            raise err.REDUCE_ONLY_REJECT
        return pos

    def _check_quant_lock(self, account: Account, symbol: str, closing: bool) -> None:
        if not closing and account.locked_until.get(symbol, 0) > self.clock():
            raise err.QUANTITATIVE_RULES

    def _parse_order(self, account: Account, params: Params) -> OrderRequest:
        spec = self.spec(opt(params, "symbol"))
        side = choice(params, "side", SIDES, err.INVALID_SIDE)
        order_type = req(params, "type")
        if order_type not in ORDER_TYPES:
            raise err.INVALID_TYPE
        if order_type in CONDITIONAL_TYPES:
            raise err.STOP_ORDER_SWITCH_ALGO
        position_side = self._position_side(account, params)
        if account.dual_side and opt(params, "reduceOnly") is not None:
            raise err.not_required("reduceOnly")
        reduce_only = boolean(params, "reduceOnly")
        if boolean(params, "closePosition"):
            raise err.not_required("closePosition")
        qty = dec(params, "quantity")
        self._check_quantity(spec, qty, market=order_type == "MARKET")
        if order_type == "LIMIT":
            tif = choice(params, "timeInForce", TIME_IN_FORCE, err.INVALID_TIF)
            price = dec(params, "price")
            self._check_price(spec, price)
            mark = self.market.quotes[spec.symbol].mark
            if side == "BUY" and price > mark * spec.multiplier_up:
                raise err.PRICE_ABOVE_MULTIPLIER
            if side == "SELL" and price < mark * spec.multiplier_down:
                raise err.PRICE_BELOW_MULTIPLIER
        else:
            if opt(params, "price") is not None:
                raise err.not_required("price")
            tif, price = "GTC", ZERO
        good_till = integer(params, "goodTillDate", 0)
        if tif == "GTD" and good_till <= self.clock():
            raise err.mandatory("goodTillDate")
        return OrderRequest(
            symbol=spec.symbol,
            side=side,
            position_side=position_side,
            type=order_type,
            time_in_force=tif,
            quantity=qty,
            price=price,
            reduce_only=reduce_only,
            client_order_id=opt(params, "newClientOrderId") or self._random_id(22),
            working_type=choice(
                params, "workingType", WORKING_TYPES, err.INVALID_WORKING_TYPE, "CONTRACT_PRICE"
            ),
            price_protect=boolean(params, "priceProtect"),
            stp_mode=choice(
                params,
                "selfTradePreventionMode",
                STP_MODES,
                err.mandatory("selfTradePreventionMode"),
                "EXPIRE_MAKER",
            ),
            good_till_date=good_till if tif == "GTD" else 0,
        )

    def _execution_price(self, symbol: str, side: str) -> Decimal:
        bid, ask = self.market.book(symbol, self.rules.spread_ticks)
        return ask if side == "BUY" else bid

    def _accept(
        self, account: Account, req: OrderRequest, *, algo: AlgoOrder | None = None
    ) -> Order:
        """Check an order against position, margin and book, then enter it (NEW)."""
        spec = self.market.specs[req.symbol]
        closing = self._closing_position(
            account, req.symbol, req.side, req.position_side, req.reduce_only
        )
        self._check_quant_lock(account, req.symbol, closing is not None)
        if algo is None and account.open_order_with_client_id(req.client_order_id):
            raise err.DUPLICATE_CLIENT_ID
        if len(account.open.get(req.symbol, ())) >= self.rules.max_open_orders_per_symbol:
            raise err.MAX_OPEN_ORDERS
        execution = self._execution_price(req.symbol, req.side)
        quote = self.market.quotes[req.symbol]
        notional_price = req.price if req.type == "LIMIT" else execution
        if closing is None and req.quantity * notional_price < spec.min_notional:
            raise err.min_notional(plain(spec.min_notional))
        if closing is None:
            needed = req.quantity * notional_price / self._leverage(account, req.symbol)
            if needed > self._margins(account)["available"]:
                raise err.MARGIN_INSUFFICIENT
        crosses = req.type == "MARKET" or (
            execution <= req.price if req.side == "BUY" else execution >= req.price
        )
        if req.type == "MARKET" and not (
            quote.mark * spec.multiplier_down <= execution <= quote.mark * spec.multiplier_up
        ):
            raise err.MARKET_PERCENT_PRICE
        if req.time_in_force == "GTX" and crosses:
            raise err.GTX_REJECT
        if req.time_in_force == "FOK" and not crosses:
            raise err.FOK_REJECT
        now = self.clock()
        order = Order(
            order_id=self._order_id(),
            client_order_id=req.client_order_id,
            symbol=req.symbol,
            side=req.side,
            position_side=req.position_side,
            type=req.type,
            orig_type=req.orig_type or req.type,
            time_in_force=req.time_in_force,
            price=req.price,
            orig_qty=req.quantity,
            reduce_only=req.reduce_only,
            close_position=req.close_position,
            stop_price=req.stop_price,
            working_type=req.working_type,
            price_protect=req.price_protect,
            self_trade_prevention_mode=req.stp_mode,
            good_till_date=req.good_till_date,
            time_ms=now,
            update_time_ms=now,
            algo_id=algo.algo_id if algo else None,
        )
        account.orders[order.order_id] = order
        account.open.setdefault(order.symbol, {})[order.order_id] = order
        account.client_ids[order.client_order_id] = order.order_id
        account.open_order_margin += self._order_margin(account, order)
        if order.time_in_force == "GTC" and order.type == "LIMIT":
            account.gtc_placed.setdefault(order.symbol, deque()).append(now)
        self._emit_order(account, order, "NEW")
        return order

    # ------------------------------------------------------------ orders: matching

    def _match(self, account: Account, order: Order) -> None:
        """Execute what crosses now; rest or expire the remainder per timeInForce."""
        execution = self._execution_price(order.symbol, order.side)
        crosses = order.type == "MARKET" or (
            execution <= order.price if order.side == "BUY" else execution >= order.price
        )
        if crosses:
            self._fill(account, order, order.remaining, execution, maker=False)
        if order.open and (order.type == "MARKET" or order.time_in_force in ("IOC", "FOK")):
            self._finish(account, order, "EXPIRED")

    def _fill(
        self, account: Account, order: Order, qty: Decimal, price: Decimal, *, maker: bool
    ) -> None:
        if order.reduce_only or order.position_side != "BOTH":
            closing = self._closable(account, order)
            if closing is not None:
                qty = min(qty, closing)
        if qty <= 0:
            self._finish(account, order, "EXPIRED")
            return
        spec = self.market.specs[order.symbol]
        now = self.clock()
        margin_before = self._order_margin(account, order)
        pos = account.position(order.symbol, order.position_side)
        signed = qty if order.side == "BUY" else -qty
        realized = self._apply_to_position(pos, signed, price)
        fee = (
            qty * price * (self.rules.maker_fee_rate if maker else self.rules.taker_fee_rate)
        ).quantize(Decimal("0.00000001"))
        if pos.amount and not realized:
            pos.open_fees += fee if pos.amount > 0 else -fee
        pos.update_time_ms = now
        account.wallet += realized - fee
        account.wallet_update_ms = now
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if not order.remaining else "PARTIALLY_FILLED"
        order.update_time_ms = now
        account.open_order_margin += self._order_margin(account, order) - margin_before
        if not order.open:
            del account.open[order.symbol][order.order_id]
        trade_id = self._trade_id()
        tran_id = self._tran_id()
        if realized:
            self._book_income(
                account, order.symbol, "REALIZED_PNL", realized, tran_id, str(trade_id)
            )
        self._book_income(account, order.symbol, "COMMISSION", -fee, tran_id, str(trade_id))
        self._emit_order(
            account,
            order,
            "TRADE",
            {
                "l": fixed(qty, spec.quantity_precision),
                "L": fixed(price, spec.price_precision),
                "n": fixed(fee, 8),
                "t": trade_id,
                "m": maker,
                "rp": fixed(realized, 8),
            },
        )
        self._emit_account_update(account, "ORDER", [pos])
        if not order.open and order.algo_id is not None:
            self._finish_algo(account, order)

    def _closable(self, account: Account, order: Order) -> Decimal | None:
        """How much of a closing order's position is left to close (None: it opens)."""
        pos = account.positions.get((order.symbol, order.position_side))
        amount = pos.amount if pos else ZERO
        if order.position_side == "BOTH":
            return abs(amount) if amount and (amount > 0) == (order.side == "SELL") else ZERO
        if (order.position_side == "LONG") == (order.side == "SELL"):
            return abs(amount)
        return None

    @staticmethod
    def _apply_to_position(pos: Position, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Add a fill to a position; returns the realized PnL (before fees)."""
        old = pos.amount
        new = old + signed_qty
        if not old or (old > 0) == (signed_qty > 0):
            pos.entry_price = (abs(old) * pos.entry_price + abs(signed_qty) * price) / abs(new)
            pos.amount = new
            return ZERO
        closed = min(abs(signed_qty), abs(old))
        realized = closed * (price - pos.entry_price) * (1 if old > 0 else -1)
        pos.realized += realized
        pos.amount = new
        if not new:
            pos.entry_price = ZERO
            pos.open_fees = ZERO
        elif (new > 0) != (old > 0):
            pos.entry_price = price
            pos.open_fees = ZERO
        return realized

    def _order_margin(self, account: Account, order: Order) -> Decimal:
        """Initial margin an open order holds (reduce-only and market orders hold none)."""
        if not order.open or order.reduce_only or order.type != "LIMIT":
            return ZERO
        return order.remaining * order.price / self._leverage(account, order.symbol)

    def _finish(self, account: Account, order: Order, status: str) -> None:
        account.open_order_margin -= self._order_margin(account, order)
        account.open[order.symbol].pop(order.order_id, None)
        order.status = status
        order.update_time_ms = self.clock()
        if status == "CANCELED" and order.time_in_force == "GTC" and order.type == "LIMIT":
            account.gtc_cancelled.setdefault(order.symbol, deque()).append(self.clock())
        self._emit_order(account, order, status)
        if order.algo_id is not None:
            self._finish_algo(account, order)

    def _match_resting(self, symbol: str) -> None:
        last = self.market.quotes[symbol].last
        for account in self.accounts.values():
            for order in sorted(account.open_orders(symbol), key=lambda o: o.order_id):
                if order.type != "LIMIT":
                    continue
                if (order.side == "BUY" and last <= order.price) or (
                    order.side == "SELL" and last >= order.price
                ):
                    self._fill(account, order, order.remaining, order.price, maker=True)

    # ------------------------------------------------------------ orders: endpoints

    def new_order(self, account: Account, params: Params) -> dict:
        req = self._parse_order(account, params)
        order = self._accept(account, req)
        spec = self.market.specs[order.symbol]
        ack = order.ack(spec)
        self._match(account, order)
        return order.ack(spec) if opt(params, "newOrderRespType") == "RESULT" else ack

    def batch_new(self, account: Account, params: Params) -> list:
        items = json_list(params, "batchOrders", 5, err.BATCH_SIZE)
        results = []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise err.mandatory("batchOrders")
                results.append(self.new_order(account, {k: str(v) for k, v in item.items()}))
            except BinanceError as exc:
                results.append(exc.body())
        return results

    def query_order(self, account: Account, params: Params) -> dict:
        order = self._find_order(account, params, err.NO_SUCH_ORDER)
        return order.query(self.market.specs[order.symbol])

    def query_open_order(self, account: Account, params: Params) -> dict:
        order = self._find_order(account, params, err.NO_SUCH_ORDER)
        if not order.open:
            raise err.NO_SUCH_ORDER
        return order.query(self.market.specs[order.symbol])

    def open_orders(self, account: Account, params: Params) -> list:
        spec = self._optional_spec(params)
        return [
            o.query(self.market.specs[o.symbol])
            for o in account.open_orders(spec.symbol if spec else None)
        ]

    def cancel_order(self, account: Account, params: Params) -> dict:
        order = self._find_order(account, params, err.UNKNOWN_ORDER)
        if not order.open:
            raise err.UNKNOWN_ORDER
        self._finish(account, order, "CANCELED")
        return order.cancel(self.market.specs[order.symbol])

    def batch_cancel(self, account: Account, params: Params) -> list:
        spec = self.spec(opt(params, "symbol"))
        size_error = BinanceError(-4082, "Invalid number of batch cancel orders.")
        # Binance matches these two names case-insensitively (python-binance lower-cases them).
        lists = {k.lower(): v for k, v in params.items() if k.lower().endswith("idlist")}
        if opt(lists, "orderidlist") is not None:
            keys = [("orderId", str(i)) for i in json_list(lists, "orderidlist", 10, size_error)]
        elif opt(lists, "origclientorderidlist") is not None:
            keys = [
                ("origClientOrderId", str(i))
                for i in json_list(lists, "origclientorderidlist", 10, size_error)
            ]
        else:
            raise err.either_param("orderIdList", "origClientOrderIdList")
        results = []
        for name, value in keys:
            try:
                results.append(self.cancel_order(account, {"symbol": spec.symbol, name: value}))
            except BinanceError as exc:
                results.append(exc.body())
        return results

    def cancel_all(self, account: Account, params: Params) -> dict:
        spec = self.spec(opt(params, "symbol"))
        for order in account.open_orders(spec.symbol):
            self._finish(account, order, "CANCELED")
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def countdown_cancel_all(self, account: Account, params: Params) -> dict:
        spec = self.spec(opt(params, "symbol"))
        countdown_ms = integer(params, "countdownTime")
        if countdown_ms is None:
            raise err.mandatory("countdownTime")
        if countdown_ms < 0:
            raise err.illegal_chars("countdownTime")
        if countdown_ms == 0:
            account.countdowns.pop(spec.symbol, None)
        else:
            account.countdowns[spec.symbol] = (countdown_ms, self.clock() + countdown_ms)
        return {"symbol": spec.symbol, "countdownTime": str(countdown_ms)}

    # ------------------------------------------------------------ algo orders

    def new_algo_order(self, account: Account, params: Params) -> dict:
        algo_type = req(params, "algoType")
        if algo_type != "CONDITIONAL":
            raise BinanceError(-1116, "Invalid algoType.")
        spec = self.spec(opt(params, "symbol"))
        side = choice(params, "side", SIDES, err.INVALID_SIDE)
        order_type = req(params, "type")
        if order_type not in CONDITIONAL_TYPES:
            raise err.INVALID_TYPE
        position_side = self._position_side(account, params)
        if account.dual_side and opt(params, "reduceOnly") is not None:
            raise err.not_required("reduceOnly")
        reduce_only = boolean(params, "reduceOnly")
        close_position = boolean(params, "closePosition")
        if close_position:
            if order_type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                raise err.not_required("closePosition")
            if opt(params, "quantity") is not None:
                raise err.not_required("quantity")
            if reduce_only:
                raise err.not_required("reduceOnly")
            qty = ZERO
        else:
            qty = dec(params, "quantity")
            self._check_quantity(spec, qty, market=order_type not in ("STOP", "TAKE_PROFIT"))
        activate = callback = None
        if order_type == "TRAILING_STOP_MARKET":
            callback = dec(params, "callbackRate")
            if not Decimal("0.1") <= callback <= Decimal("10"):
                raise BinanceError(-2007, "Invalid callbackRate.")
            activate = dec(params, "activatePrice", required=False)
            if activate is not None:
                self._check_price(spec, activate)
            trigger = activate or ZERO
        else:
            trigger = dec(params, "triggerPrice")
            self._check_price(spec, trigger)
        if order_type in ("STOP", "TAKE_PROFIT"):
            price = dec(params, "price")
            self._check_price(spec, price)
            tif = choice(params, "timeInForce", TIME_IN_FORCE, err.INVALID_TIF, "GTC")
        else:
            price, tif = ZERO, "GTC"
        working_type = choice(
            params, "workingType", WORKING_TYPES, err.INVALID_WORKING_TYPE, "CONTRACT_PRICE"
        )
        client_id = opt(params, "clientAlgoId") or self._random_id(22)
        if account.algo_client_ids.get(client_id) in account.open_algos:
            raise err.DUPLICATE_CLIENT_ID
        closing = (
            reduce_only
            or close_position
            or (position_side != "BOTH" and (position_side == "LONG") == (side == "SELL"))
        )
        self._check_quant_lock(account, spec.symbol, closing)
        if (
            not closing
            and qty * (price or trigger or self.market.quotes[spec.symbol].last) < spec.min_notional
        ):
            raise err.min_notional(plain(spec.min_notional))
        if (
            len(account.open_algo_orders()) >= self.rules.max_algo_orders_per_account
            or len(account.open_algo_orders(spec.symbol)) >= self.rules.max_algo_orders_per_symbol
        ):
            raise err.MAX_STOP_ORDERS
        now = self.clock()
        algo = AlgoOrder(
            algo_id=self._algo_id(),
            client_algo_id=client_id,
            symbol=spec.symbol,
            side=side,
            position_side=position_side,
            order_type=order_type,
            time_in_force=tif,
            quantity=qty,
            trigger_price=trigger,
            price=price,
            working_type=working_type,
            close_position=close_position,
            price_protect=boolean(params, "priceProtect"),
            reduce_only=reduce_only,
            activate_price=activate,
            callback_rate=callback,
            self_trade_prevention_mode=choice(
                params,
                "selfTradePreventionMode",
                STP_MODES,
                err.mandatory("selfTradePreventionMode"),
                "EXPIRE_MAKER",
            ),
            good_till_date=integer(params, "goodTillDate", 0),
            create_time_ms=now,
            update_time_ms=now,
        )
        if order_type != "TRAILING_STOP_MARKET" and self._triggered(algo):
            raise err.WOULD_TRIGGER
        account.algo_orders[algo.algo_id] = account.open_algos[algo.algo_id] = algo
        account.algo_client_ids[algo.client_algo_id] = algo.algo_id
        self._emit_algo(account, algo)
        return algo.ack(spec)

    def query_algo_order(self, account: Account, params: Params) -> dict:
        algo = self._find_algo(account, params, err.NO_SUCH_ORDER)
        return algo.query(self.market.specs[algo.symbol])

    def open_algo_orders(self, account: Account, params: Params) -> list:
        spec = self._optional_spec(params)
        return [
            a.listed(self.market.specs[a.symbol])
            for a in account.open_algo_orders(spec.symbol if spec else None)
        ]

    def cancel_algo_order(self, account: Account, params: Params) -> dict:
        algo = self._find_algo(account, params, err.UNKNOWN_ORDER)
        if not algo.open:
            raise err.UNKNOWN_ORDER
        self._cancel_algo(account, algo)
        return {
            "algoId": algo.algo_id,
            "clientAlgoId": algo.client_algo_id,
            "code": "200",
            "msg": "success",
        }

    def cancel_all_algo(self, account: Account, params: Params) -> dict:
        spec = self.spec(opt(params, "symbol"))
        for algo in account.open_algo_orders(spec.symbol):
            self._cancel_algo(account, algo)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _cancel_algo(self, account: Account, algo: AlgoOrder, reason: str = "") -> None:
        account.open_algos.pop(algo.algo_id, None)
        algo.status = "CANCELED"
        algo.update_time_ms = self.clock()
        self._emit_algo(account, algo, reason)

    def _trigger_price_source(self, algo: AlgoOrder) -> Decimal:
        quote = self.market.quotes[algo.symbol]
        return quote.mark if algo.working_type == "MARK_PRICE" else quote.last

    def _triggered(self, algo: AlgoOrder) -> bool:
        price = self._trigger_price_source(algo)
        if algo.order_type == "TRAILING_STOP_MARKET":
            return self._trailing_triggered(algo, price)
        stop = algo.order_type.startswith("STOP")
        rising = (algo.side == "BUY") == stop
        return price >= algo.trigger_price if rising else price <= algo.trigger_price

    @staticmethod
    def _trailing_triggered(algo: AlgoOrder, price: Decimal) -> bool:
        sell = algo.side == "SELL"
        if algo.extreme_price is None:
            activated = algo.activate_price is None or (
                price >= algo.activate_price if sell else price <= algo.activate_price
            )
            if not activated:
                return False
            algo.extreme_price = price
        algo.extreme_price = (
            max(algo.extreme_price, price) if sell else min(algo.extreme_price, price)
        )
        retrace = algo.callback_rate / 100
        if sell:
            return price <= algo.extreme_price * (1 - retrace)
        return price >= algo.extreme_price * (1 + retrace)

    def _check_algo_triggers(self, symbol: str) -> None:
        quote = self.market.quotes[symbol]
        protect = self.market.specs[symbol].trigger_protect
        for account in self.accounts.values():
            for algo in sorted(account.open_algo_orders(symbol), key=lambda a: a.algo_id):
                if not self._triggered(algo):
                    continue
                if algo.price_protect and abs(quote.mark - quote.last) > quote.mark * protect:
                    continue
                self._fire_algo(account, algo)

    def _fire_algo(self, account: Account, algo: AlgoOrder) -> None:
        now = self.clock()
        account.open_algos.pop(algo.algo_id, None)
        algo.status = "TRIGGERING"
        algo.trigger_time_ms = algo.update_time_ms = now
        self._emit_algo(account, algo)
        qty = algo.quantity
        if algo.close_position:
            pos = account.positions.get((algo.symbol, algo.position_side))
            qty = abs(pos.amount) if pos else ZERO
        req = OrderRequest(
            symbol=algo.symbol,
            side=algo.side,
            position_side=algo.position_side,
            type=algo.actual_type,
            time_in_force=algo.time_in_force if algo.actual_type == "LIMIT" else "GTC",
            quantity=qty,
            price=algo.price,
            reduce_only=algo.reduce_only or algo.close_position,
            client_order_id=algo.client_algo_id,
            working_type=algo.working_type,
            price_protect=algo.price_protect,
            stp_mode=algo.self_trade_prevention_mode,
            orig_type=algo.order_type,
            stop_price=algo.trigger_price,
            close_position=algo.close_position,
        )
        try:
            if qty <= 0:
                raise err.REDUCE_ONLY_REJECT
            order = self._accept(account, req, algo=algo)
        except BinanceError as exc:
            reason = "Reduce Only reject" if exc.code == -2022 else exc.msg
            self._cancel_algo(account, algo, reason)
            return
        algo.status = "TRIGGERED"
        algo.actual_order_id = order.order_id
        self._emit_algo(account, algo)
        self._match(account, order)

    def _finish_algo(self, account: Account, order: Order) -> None:
        algo = account.algo_orders[order.algo_id]
        if algo.status != "TRIGGERED":
            return
        algo.status = "FINISHED"
        algo.actual_price = order.avg_price
        algo.actual_qty = order.executed_qty
        algo.update_time_ms = self.clock()
        self._emit_algo(account, algo)

    # ------------------------------------------------------------ account settings

    def position_mode(self, account: Account) -> dict:
        return {"dualSidePosition": account.dual_side}

    def set_position_mode(self, account: Account, params: Params) -> dict:
        req(params, "dualSidePosition")
        dual = boolean(params, "dualSidePosition")
        if dual == account.dual_side:
            raise err.NO_NEED_TO_CHANGE_SIDE
        if any(p.amount for p in account.positions.values()):
            raise err.SIDE_CHANGE_WITH_POSITION
        if account.open_orders() or account.open_algo_orders():
            raise err.SIDE_CHANGE_WITH_ORDERS
        account.dual_side = dual
        account.positions.clear()
        return {"code": 200, "msg": "success"}

    def api_trading_status(self, account: Account, params: Params) -> dict:
        spec = self._optional_spec(params)
        now = self.clock()
        indicators = {}
        symbols = [spec.symbol] if spec else sorted(account.gtc_placed)
        for symbol in symbols:
            placed, cancelled = self._gcr_counts(account, symbol, now)
            if placed < GCR_REPORT_MIN_ORDERS:
                continue
            locked_until = account.locked_until.get(symbol, 0)
            indicators[symbol] = [
                {
                    "isLocked": locked_until > now,
                    "plannedRecoverTime": locked_until if locked_until > now else 0,
                    "indicator": "GCR",
                    "value": round(cancelled / placed, 4),
                    "triggerValue": float(GCR_TRIGGER),
                }
            ]
        return {"indicators": indicators, "updateTime": now}

    def _gcr_counts(self, account: Account, symbol: str, now: int) -> tuple[int, int]:
        counts = []
        for log in (
            account.gtc_placed.get(symbol, deque()),
            account.gtc_cancelled.get(symbol, deque()),
        ):
            while log and log[0] < now - GCR_WINDOW_MS:
                log.popleft()
            counts.append(len(log))
        return counts[0], counts[1]

    def _enforce_quantitative_rules(self, account: Account, now: int) -> None:
        for symbol in list(account.gtc_placed):
            placed, cancelled = self._gcr_counts(account, symbol, now)
            if (
                placed >= GCR_LOCK_MIN_ORDERS
                and cancelled >= placed * GCR_TRIGGER
                and account.locked_until.get(symbol, 0) <= now
            ):
                account.locked_until[symbol] = now + GCR_LOCK_MS

    # ------------------------------------------------------------ user-data stream keys

    def create_listen_key(self, account: Account) -> dict:
        now = self.clock()
        for lk in self.listen_keys.values():
            if lk.account == account.name:
                lk.expires_ms = now + self.rules.listen_key_ttl_ms
                return {"listenKey": lk.key}
        key = self._random_id(64)
        self.listen_keys[key] = ListenKey(key, account.name, now + self.rules.listen_key_ttl_ms)
        return {"listenKey": key}

    def keepalive_listen_key(self, account: Account) -> dict:
        for lk in self.listen_keys.values():
            if lk.account == account.name:
                lk.expires_ms = self.clock() + self.rules.listen_key_ttl_ms
                return {"listenKey": lk.key}
        raise err.LISTEN_KEY_INVALID

    def close_listen_key(self, account: Account) -> dict:
        for key in [k for k, lk in self.listen_keys.items() if lk.account == account.name]:
            del self.listen_keys[key]
        return {}

    def listen_key_account(self, key: str) -> str | None:
        lk = self.listen_keys.get(key)
        return lk.account if lk else None

    # ------------------------------------------------------------ time passing

    def set_price(self, symbol: str, mark: Decimal, last: Decimal | None = None) -> None:
        self.spec(symbol)
        self.market.set_price(symbol, mark, last, self.clock())
        self._on_price(symbol)

    def _on_price(self, symbol: str) -> None:
        self._match_resting(symbol)
        self._check_algo_triggers(symbol)

    def tick(self) -> None:
        """Advance the exchange to now: price walk, triggers, countdowns, funding, expiries."""
        now = self.clock()
        if self.rules.walk_interval_ms and now >= self._next_walk_ms:
            self.market.walk(now)
            self._next_walk_ms = now + self.rules.walk_interval_ms
            for symbol in self.market.specs:
                self._on_price(symbol)
        for account in self.accounts.values():
            self._fire_countdowns(account, now)
            self._expire_gtd(account, now)
            self._enforce_quantitative_rules(account, now)
        while now >= self.next_funding_ms:
            self._settle_funding()
            self.next_funding_ms += self.rules.funding_interval_ms
        for key, lk in list(self.listen_keys.items()):
            if lk.expires_ms <= now:
                del self.listen_keys[key]
                self.emit(lk.account, {"e": "listenKeyExpired", "E": now, "listenKey": key})

    def _fire_countdowns(self, account: Account, now: int) -> None:
        for symbol, (countdown_ms, deadline) in list(account.countdowns.items()):
            if deadline > now:
                continue
            del account.countdowns[symbol]
            cancelled = account.open_orders(symbol)
            for order in cancelled:
                self._finish(account, order, "CANCELED")
            account.countdowns_fired.append(
                {
                    "symbol": symbol,
                    "time": now,
                    "countdownTime": countdown_ms,
                    "cancelled": len(cancelled),
                }
            )

    def _expire_gtd(self, account: Account, now: int) -> None:
        for order in account.open_orders():
            if order.time_in_force == "GTD" and order.good_till_date <= now:
                self._finish(account, order, "EXPIRED")

    def _settle_funding(self) -> None:
        for account in self.accounts.values():
            changed = False
            for pos in account.positions.values():
                if not pos.amount:
                    continue
                quote = self.market.quotes[pos.symbol]
                fee = (-pos.amount * quote.mark * quote.funding_rate).quantize(
                    Decimal("0.00000001")
                )
                account.wallet += fee
                self._book_income(account, pos.symbol, "FUNDING_FEE", fee, self._tran_id())
                changed = True
            if changed:
                account.wallet_update_ms = self.clock()
                self._emit_account_update(account, "FUNDING_FEE", [])

    # ------------------------------------------------------------ stream events

    def _emit_order(
        self, account: Account, order: Order, execution: str, trade: dict | None = None
    ) -> None:
        spec = self.market.specs[order.symbol]
        body = order.stream(spec)
        body["x"] = execution
        if trade:
            body |= trade
        if order.orig_type != order.type:
            body["sp"] = fixed(order.stop_price, spec.price_precision)
        now = self.clock()
        self.emit(account.name, {"e": "ORDER_TRADE_UPDATE", "T": now, "E": now, "o": body})

    def _emit_algo(self, account: Account, algo: AlgoOrder, reason: str = "") -> None:
        now = self.clock()
        self.emit(
            account.name,
            {
                "e": "ALGO_UPDATE",
                "T": now,
                "E": now,
                "o": algo.stream(self.market.specs[algo.symbol], reason),
            },
        )

    def _emit_account_update(
        self, account: Account, reason: str, positions: list[Position]
    ) -> None:
        now = self.clock()
        rows = []
        for pos in positions:
            spec = self.market.specs[pos.symbol]
            rows.append(
                {
                    "s": pos.symbol,
                    "pa": fixed(pos.amount, spec.quantity_precision),
                    "ep": plain(pos.entry_price),
                    "bep": plain(pos.break_even_price),
                    "cr": fixed(pos.realized, 8),
                    "up": fixed(pos.unrealized_pnl(self.market.quotes[pos.symbol].mark), 8),
                    "mt": "cross",
                    "iw": "0",
                    "ps": pos.position_side,
                }
            )
        balance = fixed(account.wallet, 8)
        self.emit(
            account.name,
            {
                "e": "ACCOUNT_UPDATE",
                "T": now,
                "E": now,
                "a": {
                    "m": reason,
                    "B": [{"a": "USDT", "wb": balance, "cw": balance, "bc": "0"}],
                    "P": rows,
                },
            },
        )

    # ------------------------------------------------------------ control API view

    def state(self) -> dict:
        """Full state for tests (GET /_sim/state); never includes API secrets."""
        accounts = {}
        for account in self.accounts.values():
            accounts[account.name] = {
                "api_key": account.api_key,
                "dual_side_position": account.dual_side,
                "wallet_balance": fixed(account.wallet, 8),
                "positions": [
                    {
                        "symbol": p.symbol,
                        "positionSide": p.position_side,
                        "positionAmt": plain(p.amount),
                        "entryPrice": plain(p.entry_price),
                        "updateTime": p.update_time_ms,
                    }
                    for p in account.positions.values()
                    if p.amount
                ],
                "open_orders": [
                    o.query(self.market.specs[o.symbol]) for o in account.open_orders()
                ],
                "open_algo_orders": [
                    a.query(self.market.specs[a.symbol]) for a in account.open_algo_orders()
                ],
                "done_algo_orders": [
                    a.query(self.market.specs[a.symbol])
                    for a in account.algo_orders.values()
                    if a.algo_id not in account.open_algos
                ],
                "income": [dict(r, income=fixed(r["income"], 8)) for r in account.income],
                "countdowns": {
                    s: {"countdownTime": c, "deadline": d}
                    for s, (c, d) in account.countdowns.items()
                },
                "countdowns_fired": list(account.countdowns_fired),
                "listen_keys": [
                    lk.key for lk in self.listen_keys.values() if lk.account == account.name
                ],
            }
        return {
            "time": self.clock(),
            "next_funding_time": self.next_funding_ms,
            "prices": {
                s: {"mark": plain(q.mark), "last": plain(q.last)}
                for s, q in self.market.quotes.items()
            },
            "accounts": accounts,
        }
