"""The simulated exchange: its parts wired together behind one facade.

A state machine with an injected clock: the aiohttp server (``riskd.sim.server``) parses
requests, authenticates and rate-limits, then calls one method here per endpoint. Every change
an account would see on Binance's user-data stream is handed to ``emit(account, event)``.

The parts, each with its state and its rules:

* ``market_data.MarketData``: public endpoints, price-walk and funding schedules;
* ``accounts.Accounts``: wallets, positions, margin, income, funding, position mode;
* ``accounts.ListenKeys``: user-data stream keys;
* ``matching.Matching``: regular orders, the book of open orders, fills and cancels;
* ``algo.AlgoService``: conditional orders and their triggers;
* ``countdown.Countdowns``: countdownCancelAll;
* ``quant_rules.QuantRules``: apiTradingStatus and the symbol locks it reports;
* ``settings.AccountSettings``: leverage, margin type and leverage brackets;
* ``trade_history.TradeHistory``: each account's fills (userTrades);
* ``stream_events.StreamEvents``: market-stream events (the server's hub fans them out);
* ``account_views.AccountViews`` and ``snapshot.Snapshot``: read-only renderings;
* ``api_keys``: what each account's API key may do (spot's ``/sapi``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from decimal import Decimal

from riskd.sim.account_views import AccountViews
from riskd.sim.accounts import Account, Accounts, ListenKeys
from riskd.sim.algo import AlgoService
from riskd.sim.api_keys import api_restrictions, changed_restrictions
from riskd.sim.config import SimConfig
from riskd.sim.countdown import Countdowns
from riskd.sim.ids import IdSource
from riskd.sim.market import Market
from riskd.sim.market_data import MarketData
from riskd.sim.matching import Matching
from riskd.sim.params import Params
from riskd.sim.quant_rules import QuantRules
from riskd.sim.settings import AccountSettings
from riskd.sim.snapshot import Snapshot
from riskd.sim.stream_events import StreamEvents, StreamSpec
from riskd.sim.trade_history import TradeHistory
from riskd.sim.universe import build_universe
from riskd.sim.venue import Emit, Venue


class SimExchange:
    """Binance USDⓈ-M futures, in memory. Deterministic for a seed and a request sequence.

    Each method takes the lock, so tests may call in from another thread than the server's.
    ``emit`` may be replaced at any time (benchmarks and tests wrap it); ``on_price_change``
    is told each symbol whose price moved (the market-stream hub listens).
    """

    def __init__(
        self,
        config: SimConfig,
        clock: Callable[[], int],
        emit: Emit = lambda _account, _event: None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.emit = emit
        self.on_price_change: Callable[[str], None] = lambda _symbol: None
        self._lock = threading.Lock()
        rules = config.exchange
        symbols = build_universe(config.symbols, config.seed)
        self.market = Market(symbols, config.seed, rules.funding_rate, rules.walk_step_bps)
        ids = IdSource(config.seed)
        venue = Venue(config, self.market, ids, clock, self._emit)
        self._market_data = MarketData(config, self.market, ids, clock)
        self._accounts = Accounts(venue)
        self.listen_keys = ListenKeys(rules.listen_key_ttl_ms, ids, clock, self._emit)
        self._quant_rules = QuantRules(self.market, self._accounts, clock)
        self._trades = TradeHistory(self.market, clock)
        self._matching = Matching(venue, self._accounts, self._quant_rules, self._trades)
        self._algos = AlgoService(venue, self._accounts, self._matching, self._quant_rules)
        self._settings = AccountSettings(venue, self._accounts, self._matching, self._algos)
        self._stream_events = StreamEvents(self.market, self._market_data, ids, rules.spread_ticks)
        self._countdowns = Countdowns(self.market, self._accounts, self._matching, clock)
        self._views = AccountViews(self.market, self._accounts, self._matching)
        self._snapshot = Snapshot(
            self.market,
            self._market_data,
            self._accounts,
            self._matching,
            self._algos,
            self._countdowns,
            self.listen_keys,
            clock,
        )
        self._matching.on_algo_order_final = self._algos.order_final
        self._accounts.order_holders = (self._matching.holds_orders, self._algos.holds_orders)

    def _emit(self, account: str, event: dict) -> None:
        # The parts hold this method, not ``self.emit``, so that replacing it reaches them.
        self.emit(account, event)

    @property
    def next_funding_ms(self) -> int:
        return self._market_data.next_funding_ms

    # ------------------------------------------------------------ server and control API

    def account_by_key(self, api_key: str) -> Account | None:
        with self._lock:
            return self._accounts.by_key(api_key)

    def listen_key_account(self, key: str) -> str | None:
        """The account a listen key streams, if the key is live."""
        with self._lock:
            return self.listen_keys.account_of(key)

    def set_api_restrictions(self, api_key: str, changes: Mapping[str, object]) -> Account:
        """Change what the key *api_key* may do (POST /_sim/api_restrictions); its account.
        LookupError: no account has the key; ValueError: a change is wrong (named)."""
        with self._lock:
            account = self._accounts.by_key(api_key)
            if account is None:
                raise LookupError("api_key: no account has this key")
            account.api_restrictions = changed_restrictions(account.api_restrictions, changes)
            return account

    def set_price(self, symbol: str, mark: Decimal, last: Decimal | None = None) -> None:
        """Set a price (POST /_sim/mark); resting orders and triggers react at once."""
        with self._lock:
            self._market_data.set_price(symbol, mark, last)
            self._on_price(symbol)

    def tick(self) -> None:
        """Advance to now: price walk, triggers, countdowns, expiries, funding, listen keys."""
        with self._lock:
            now = self.clock()
            for symbol in self._market_data.walk(now):
                self._on_price(symbol)
            for account in self._accounts:
                self._countdowns.fire(account, now)
                self._matching.expire_gtd(account, now)
                self._quant_rules.enforce(account, now)
            for _ in range(self._market_data.fundings_due(now)):
                self._accounts.settle_funding()
            self.listen_keys.expire(now)

    def _on_price(self, symbol: str) -> None:
        self._matching.match_resting(symbol)
        self._algos.check_triggers(symbol)
        self.on_price_change(symbol)

    def stream_events(self, requests: list[tuple[StreamSpec, int]]) -> list[dict | None]:
        """Market-stream events for (stream, at_ms) requests, rendered at one instant."""
        with self._lock:
            now = self.clock()
            return [self._stream_events.render(spec, at_ms, now) for spec, at_ms in requests]

    def state(self) -> dict:
        """GET /_sim/state."""
        with self._lock:
            return self._snapshot.state()

    # ------------------------------------------------------------ market data

    def server_time(self) -> dict:
        """GET /fapi/v1/time."""
        with self._lock:
            return self._market_data.server_time()

    def exchange_info(self) -> dict:
        """GET /fapi/v1/exchangeInfo."""
        with self._lock:
            return self._market_data.exchange_info()

    def klines(self, params: Params) -> list:
        """GET /fapi/v1/klines."""
        with self._lock:
            return self._market_data.klines(params)

    def depth(self, params: Params) -> dict:
        """GET /fapi/v1/depth."""
        with self._lock:
            return self._market_data.depth(params)

    def book_ticker(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/bookTicker."""
        with self._lock:
            return self._market_data.book_ticker(params)

    def ticker_24hr(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/24hr."""
        with self._lock:
            return self._market_data.ticker_24hr(params)

    def premium_index(self, params: Params) -> dict | list:
        """GET /fapi/v1/premiumIndex."""
        with self._lock:
            return self._market_data.premium_index(params)

    def ticker_price(self, params: Params) -> dict | list:
        """GET /fapi/v1/ticker/price and /fapi/v2/ticker/price."""
        with self._lock:
            return self._market_data.ticker_price(params)

    def funding_rate(self, params: Params) -> list:
        """GET /fapi/v1/fundingRate."""
        with self._lock:
            return self._market_data.funding_rate(params)

    # ------------------------------------------------------------ accounts

    def account_v2(self, account: Account) -> dict:
        """GET /fapi/v2/account."""
        with self._lock:
            return self._views.account_v2(account)

    def account_v3(self, account: Account) -> dict:
        """GET /fapi/v3/account."""
        with self._lock:
            return self._views.account_v3(account)

    def position_risk_v2(self, account: Account, params: Params) -> list:
        """GET /fapi/v2/positionRisk."""
        with self._lock:
            return self._views.position_risk_v2(account, params)

    def position_risk_v3(self, account: Account, params: Params) -> list:
        """GET /fapi/v3/positionRisk."""
        with self._lock:
            return self._views.position_risk_v3(account, params)

    def income(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/income."""
        with self._lock:
            return self._accounts.income(account, params)

    def position_mode(self, account: Account) -> dict:
        """GET /fapi/v1/positionSide/dual."""
        with self._lock:
            return self._accounts.position_mode(account)

    def set_position_mode(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/positionSide/dual."""
        with self._lock:
            return self._accounts.set_position_mode(account, params)

    def leverage_bracket(self, _account: Account, params: Params) -> dict | list:
        """GET /fapi/v1/leverageBracket."""
        with self._lock:
            return self._settings.leverage_bracket(params)

    def set_leverage(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/leverage."""
        with self._lock:
            return self._settings.set_leverage(account, params)

    def set_margin_type(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/marginType."""
        with self._lock:
            return self._settings.set_margin_type(account, params)

    def user_trades(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/userTrades."""
        with self._lock:
            return self._trades.user_trades(account, params)

    def api_restrictions(self, account: Account) -> dict:
        """GET /sapi/v1/account/apiRestrictions."""
        with self._lock:
            return api_restrictions(account)

    def api_trading_status(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/apiTradingStatus."""
        with self._lock:
            return self._quant_rules.api_trading_status(account, params)

    def create_listen_key(self, account: Account) -> dict:
        """POST /fapi/v1/listenKey."""
        with self._lock:
            return self.listen_keys.create(account)

    def keepalive_listen_key(self, account: Account) -> dict:
        """PUT /fapi/v1/listenKey."""
        with self._lock:
            return self.listen_keys.keepalive(account)

    def close_listen_key(self, account: Account) -> dict:
        """DELETE /fapi/v1/listenKey."""
        with self._lock:
            return self.listen_keys.close(account)

    def expire_listen_keys(self) -> int:
        """Expire every live listenKey now (the control API's fault); returns how many."""
        with self._lock:
            return self.listen_keys.expire(self.clock(), every=True)

    # ------------------------------------------------------------ orders

    def new_order(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/order."""
        with self._lock:
            return self._matching.new_order(account, params)

    def batch_new(self, account: Account, params: Params) -> list:
        """POST /fapi/v1/batchOrders."""
        with self._lock:
            return self._matching.batch_new(account, params)

    def modify_order(self, account: Account, params: Params) -> dict:
        """PUT /fapi/v1/order."""
        with self._lock:
            return self._matching.modify_order(account, params)

    def query_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/order."""
        with self._lock:
            return self._matching.query_order(account, params)

    def all_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/allOrders."""
        with self._lock:
            return self._matching.all_orders(account, params)

    def query_open_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/openOrder."""
        with self._lock:
            return self._matching.query_open_order(account, params)

    def open_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/openOrders."""
        with self._lock:
            return self._matching.open_orders(account, params)

    def cancel_order(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/order."""
        with self._lock:
            return self._matching.cancel_order(account, params)

    def batch_cancel(self, account: Account, params: Params) -> list:
        """DELETE /fapi/v1/batchOrders."""
        with self._lock:
            return self._matching.batch_cancel(account, params)

    def cancel_all(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/allOpenOrders."""
        with self._lock:
            return self._matching.cancel_all(account, params)

    def countdown_cancel_all(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/countdownCancelAll."""
        with self._lock:
            return self._countdowns.countdown_cancel_all(account, params)

    # ------------------------------------------------------------ algo orders

    def new_algo_order(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/algoOrder."""
        with self._lock:
            return self._algos.new_algo_order(account, params)

    def query_algo_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/algoOrder."""
        with self._lock:
            return self._algos.query_algo_order(account, params)

    def open_algo_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/openAlgoOrders."""
        with self._lock:
            return self._algos.open_algo_orders(account, params)

    def cancel_algo_order(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/algoOrder."""
        with self._lock:
            return self._algos.cancel_algo_order(account, params)

    def cancel_all_algo(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/algoOpenOrders."""
        with self._lock:
            return self._algos.cancel_all_algo(account, params)
