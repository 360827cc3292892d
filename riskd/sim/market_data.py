"""Public market data endpoints, and the schedules of the price walk and of funding."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from riskd.sim import errors as err
from riskd.sim.config import SimConfig
from riskd.sim.ids import IdSource
from riskd.sim.market import Market, SymbolSpec, fixed
from riskd.sim.params import Params, integer, opt, req

_INTERVAL = re.compile(r"(\d+)([mhdw])")
_INTERVAL_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
# Binance lists funding history from a contract's onboardDate (the one exchangeInfo publishes).
_ONBOARD_MS = 1569398400000


def interval_ms(interval: str) -> int | None:
    """Milliseconds of a kline interval such as "1m" or "4h" (None if it is not one)."""
    match = _INTERVAL.fullmatch(interval)
    return int(match.group(1)) * _INTERVAL_UNIT_MS[match.group(2)] if match else None


class MarketData:
    """What anyone may ask about the market (no API key), and when prices and funding move."""

    def __init__(
        self, config: SimConfig, market: Market, ids: IdSource, clock: Callable[[], int]
    ) -> None:
        self._config = config
        self._rules = config.exchange
        self._market = market
        self._ids = ids
        self._clock = clock
        now = clock()
        interval = self._rules.funding_interval_ms
        self.next_funding_ms = now - now % interval + interval
        self._next_walk_ms = now + self._rules.walk_interval_ms
        # Funding settled since the start: time -> symbol -> (rate, mark price).
        self._fundings: dict[int, dict[str, tuple[Decimal, Decimal]]] = {}
        self._symbol_entries: list[dict] | None = None
        self._started_ms = now

    # ------------------------------------------------------------ time passing

    def set_price(self, symbol: str, mark: Decimal, last: Decimal | None) -> None:
        """Set a symbol's mark (and last) price, as the control API does."""
        self._market.spec(symbol)
        self._market.set_price(symbol, mark, last, self._clock())

    def walk(self, now: int) -> list[str]:
        """Take a random-walk step if one is due; returns the symbols whose price moved."""
        if not self._rules.walk_interval_ms or now < self._next_walk_ms:
            return []
        self._market.walk(now)
        self._next_walk_ms = now + self._rules.walk_interval_ms
        return list(self._market.specs)

    def fundings_due(self, now: int) -> int:
        """How many funding times have come by now; the next one moves past them."""
        due = 0
        while now >= self.next_funding_ms:
            due += 1
            self._fundings[self.next_funding_ms] = {
                symbol: (quote.funding_rate, quote.mark)
                for symbol, quote in self._market.quotes.items()
            }
            self.next_funding_ms += self._rules.funding_interval_ms
        return due

    # ------------------------------------------------------------ endpoints

    def server_time(self) -> dict:
        """GET /fapi/v1/time."""
        return {"serverTime": self._clock()}

    def exchange_info(self) -> dict:
        """GET /fapi/v1/exchangeInfo."""
        limits = self._config.limits
        return {
            "timezone": "UTC",
            "serverTime": self._clock(),
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
            "symbols": self._symbols_info(),
        }

    def _symbols_info(self) -> list[dict]:
        """exchangeInfo's symbols: the contracts never change, so they are rendered once."""
        if self._symbol_entries is None:
            self._symbol_entries = [
                spec.exchange_info(
                    self._rules.max_open_orders_per_symbol, self._rules.max_algo_orders_per_symbol
                )
                for spec in self._market.specs.values()
            ]
        return self._symbol_entries

    def klines(self, params: Params) -> list:
        """GET /fapi/v1/klines."""
        spec = self._market.spec(opt(params, "symbol"))
        interval = interval_ms(req(params, "interval"))
        if interval is None:
            raise err.INVALID_INTERVAL
        limit = integer(params, "limit", 500)
        if not 1 <= limit <= 1500:
            raise err.BAD_LIMIT
        now = self._clock()
        end = min(integer(params, "endTime", now), now)
        start = integer(params, "startTime", -1)
        if start < 0:  # the last `limit` klines opened by endTime
            return self._market.klines(spec.symbol, interval, limit, end)
        # The first `limit` klines opened at or after startTime, and by endTime.
        first_open = -(-start // interval) * interval
        count = min(limit, (end - end % interval - first_open) // interval + 1)
        if count <= 0:
            return []
        return self._market.klines(
            spec.symbol, interval, count, first_open + (count - 1) * interval
        )

    def depth(self, params: Params) -> dict:
        """GET /fapi/v1/depth."""
        spec = self._market.spec(opt(params, "symbol"))
        limit = integer(params, "limit", 500)
        if limit not in _DEPTH_LIMITS:
            raise err.BAD_LIMIT
        bids, asks = self._market.depth(spec.symbol, limit, self._rules.spread_ticks)
        now = self._clock()
        return {"lastUpdateId": now * 10, "E": now, "T": now, "bids": bids, "asks": asks}

    def book_ticker(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/bookTicker."""

        def render(spec: SymbolSpec) -> dict:
            bid, ask = self._market.book(spec.symbol, self._rules.spread_ticks)
            qty = fixed(spec.min_qty * 100, spec.quantity_precision)
            return {
                "symbol": spec.symbol,
                "bidPrice": fixed(bid, spec.price_precision),
                "bidQty": qty,
                "askPrice": fixed(ask, spec.price_precision),
                "askQty": qty,
                "time": self._clock(),
            }

        return self._for_symbols(params, render)

    def ticker_24hr(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/24hr, from the last 24 hourly klines."""
        return self._for_symbols(params, self.ticker_row)

    def ticker_row(self, spec: SymbolSpec) -> dict:
        """One symbol's 24 h statistics (REST ticker/24hr; the 24hrTicker stream event)."""
        now = self._clock()
        rows = self._market.klines(spec.symbol, 3_600_000, 24, now)
        open_price = Decimal(rows[0][1])
        last = self._market.quotes[spec.symbol].last
        volume = sum(Decimal(r[5]) for r in rows)
        quote_volume = sum(Decimal(r[7]) for r in rows)
        change = last - open_price
        places = spec.price_precision
        last_id = self._ids.last_trade_id
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
            "firstId": last_id - 1000,
            "lastId": last_id,
            "count": 1000,
        }

    def ticker_price(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/price and /fapi/v2/ticker/price: the last price."""
        now = self._clock()

        def render(spec: SymbolSpec) -> dict:
            last = self._market.quotes[spec.symbol].last
            return {"symbol": spec.symbol, "price": fixed(last, spec.price_precision), "time": now}

        return self._for_symbols(params, render)

    def funding_rate(self, params: Params) -> list:
        """GET /fapi/v1/fundingRate: settled funding, oldest first.

        With startTime: the first ``limit`` records from it; otherwise the ``limit`` most recent
        up to endTime. Funding times before the simulator started are synthesised with the
        configured rate at the contract's initial price.
        """
        spec = self._market.optional_spec(opt(params, "symbol"))
        specs = [spec] if spec is not None else list(self._market.specs.values())
        limit = integer(params, "limit", 100)
        if not 1 <= limit <= 1000:
            raise err.BAD_LIMIT
        start = integer(params, "startTime")
        end = integer(params, "endTime", self._clock())
        if start is not None and start > end:
            raise err.START_AFTER_END
        period = self._rules.funding_interval_ms
        last_time = min(end, self.next_funding_ms - period)
        last_time -= (last_time - self.next_funding_ms) % period
        first_time = max(_ONBOARD_MS, _ONBOARD_MS if start is None else start)
        first_time += (self.next_funding_ms - first_time) % period
        times_needed = -(-limit // len(specs))
        if start is None:
            first_time = max(first_time, last_time - (times_needed - 1) * period)
        times = range(first_time, last_time + 1, period)[:times_needed]
        rows = [row for at in times for row in self._funding_rows(at, specs)]
        return rows[:limit] if start is not None else rows[-limit:]

    def _funding_rows(self, at_ms: int, specs: list[SymbolSpec]) -> list[dict]:
        settled = self._fundings.get(at_ms)
        rows = []
        for spec in specs:
            if settled is not None:
                rate, mark = settled[spec.symbol]
            elif at_ms < self._started_ms:
                rate, mark = self._rules.funding_rate, spec.initial_price
            else:
                continue
            rows.append(
                {
                    "symbol": spec.symbol,
                    "fundingRate": fixed(rate, 8),
                    "fundingTime": at_ms,
                    "markPrice": fixed(mark, 8),
                }
            )
        return rows

    def premium_index(self, params: Params) -> dict | list:
        """GET /fapi/v1/premiumIndex (mark price and funding)."""

        def render(spec: SymbolSpec) -> dict:
            quote = self._market.quotes[spec.symbol]
            return {
                "symbol": spec.symbol,
                "markPrice": fixed(quote.mark, 8),
                "indexPrice": fixed(quote.mark, 8),
                "estimatedSettlePrice": fixed(quote.mark, 8),
                "lastFundingRate": fixed(quote.funding_rate, 8),
                "interestRate": "0.00010000",
                "nextFundingTime": self.next_funding_ms,
                "time": self._clock(),
            }

        return self._for_symbols(params, render)

    def _for_symbols(self, params: Params, render: Callable[[SymbolSpec], dict]) -> dict | list:
        """One symbol's object if the request names one, else a list of every symbol's."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        if spec is not None:
            return render(spec)
        return [render(s) for s in self._market.specs.values()]
