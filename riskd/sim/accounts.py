"""Accounts: wallet, positions, position mode, leverage, margin, income, funding, listen keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from riskd.core.clock import DAY_MS
from riskd.sim import errors as err
from riskd.sim.config import SimApiRestrictions
from riskd.sim.ids import IdSource
from riskd.sim.market import EIGHT_PLACES, ZERO, fixed, plain
from riskd.sim.orders import Position
from riskd.sim.params import Params, boolean, integer, opt, req
from riskd.sim.venue import Emit, Venue, VenuePart

INCOME_WINDOW_MS = 7 * DAY_MS
INCOME_RETENTION_MS = 90 * DAY_MS


@dataclass(slots=True)
class Account:
    """One futures account (cross margin, USDT-margined): its balance sheet and settings."""

    name: str
    api_key: str
    api_secret: str
    dual_side: bool
    wallet: Decimal
    wallet_update_ms: int
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    # Symbols set to ISOLATED (POST /fapi/v1/marginType); every other symbol is CROSSED.
    isolated: set[str] = field(default_factory=set)
    income: list[dict] = field(default_factory=list)
    # Initial margin held by open orders: matching keeps it up to date as they enter, fill, end.
    open_order_margin: Decimal = ZERO
    # What the API key may do (GET /sapi/v1/account/apiRestrictions), and when it was created.
    api_restrictions: SimApiRestrictions = field(default_factory=SimApiRestrictions)
    key_created_ms: int = 0

    def position(self, symbol: str, position_side: str) -> Position:
        key = (symbol, position_side)
        if key not in self.positions:
            self.positions[key] = Position(symbol, position_side)
        return self.positions[key]


@dataclass(slots=True)
class Margins:
    """An account's cross-margin figures at the current mark prices."""

    upnl: Decimal
    position_im: Decimal
    order_im: Decimal
    maint: Decimal
    margin_balance: Decimal
    available: Decimal

    @property
    def initial(self) -> Decimal:
        return self.position_im + self.order_im


class Accounts(VenuePart):
    """The accounts, by API key, and the rules on their money: margin, fills, income, funding."""

    def __init__(self, venue: Venue) -> None:
        super().__init__(venue)
        config = venue.config
        now = self._clock()
        self._by_key = {
            a.api_key: Account(
                a.name,
                a.api_key,
                a.api_secret,
                a.dual_side_position,
                a.usdt_balance,
                now,
                api_restrictions=a.api_restrictions,
                key_created_ms=now,
            )
            for a in config.accounts
        }
        # Whether an account has open orders of some kind; the exchange wires these in.
        self.order_holders: tuple[Callable[[Account], bool], ...] = ()

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_key.values())

    def by_key(self, api_key: str) -> Account | None:
        return self._by_key.get(api_key)

    def leverage(self, account: Account, symbol: str) -> int:
        """The symbol's leverage: as set, else the default capped at the contract's maximum."""
        default = min(self._rules.default_leverage, self._market.specs[symbol].max_leverage)
        return account.leverage.get(symbol, default)

    def margins(self, account: Account) -> Margins:
        upnl = position_im = maint = ZERO
        for pos in account.positions.values():
            if not pos.amount:
                continue
            mark = self._market.quotes[pos.symbol].mark
            notional = abs(pos.amount) * mark
            upnl += pos.unrealized_pnl(mark)
            position_im += notional / self.leverage(account, pos.symbol)
            maint += notional * self._market.specs[pos.symbol].maint_margin_rate
        order_im = account.open_order_margin
        margin_balance = account.wallet + upnl
        return Margins(
            upnl=upnl,
            position_im=position_im,
            order_im=order_im,
            maint=maint,
            margin_balance=margin_balance,
            available=max(ZERO, margin_balance - position_im - order_im),
        )

    def settle_fill(
        self,
        account: Account,
        symbol: str,
        position_side: str,
        signed_qty: Decimal,
        price: Decimal,
        fee: Decimal,
        now: int,
    ) -> tuple[Position, Decimal]:
        """Book a fill on the position and the wallet; returns the position and realized PnL."""
        pos = account.position(symbol, position_side)
        realized = pos.fill(signed_qty, price)
        if pos.amount and not realized:
            pos.open_fees += fee if pos.amount > 0 else -fee
        pos.update_time_ms = now
        account.wallet += realized - fee
        account.wallet_update_ms = now
        return pos, realized

    def book_income(
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
                "time": self._clock(),
                "tranId": tran_id,
                "tradeId": trade_id,
            }
        )

    def income(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/income: the last 7 days unless a window is given, 90 days kept."""
        symbol = opt(params, "symbol")
        income_type = opt(params, "incomeType")
        limit = integer(params, "limit", 100)
        if not 1 <= limit <= 1000:
            raise err.BAD_LIMIT
        now = self._clock()
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

    def position_mode(self, account: Account) -> dict:
        """GET /fapi/v1/positionSide/dual."""
        return {"dualSidePosition": account.dual_side}

    def set_position_mode(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/positionSide/dual: only with no position and no open order."""
        req(params, "dualSidePosition")
        dual = boolean(params, "dualSidePosition")
        if dual == account.dual_side:
            raise err.NO_NEED_TO_CHANGE_SIDE
        if any(p.amount for p in account.positions.values()):
            raise err.SIDE_CHANGE_WITH_POSITION
        if any(holds(account) for holds in self.order_holders):
            raise err.SIDE_CHANGE_WITH_ORDERS
        account.dual_side = dual
        account.positions.clear()
        return {"code": 200, "msg": "success"}

    def settle_funding(self) -> None:
        """Pay or charge every open position its funding fee at the current mark."""
        for account in self:
            changed = False
            for pos in account.positions.values():
                if not pos.amount:
                    continue
                quote = self._market.quotes[pos.symbol]
                fee = (-pos.amount * quote.mark * quote.funding_rate).quantize(EIGHT_PLACES)
                account.wallet += fee
                self.book_income(account, pos.symbol, "FUNDING_FEE", fee, self._ids.tran_id())
                changed = True
            if changed:
                account.wallet_update_ms = self._clock()
                self.emit_account_update(account, "FUNDING_FEE", [])

    def emit_account_update(self, account: Account, reason: str, positions: list[Position]) -> None:
        """ACCOUNT_UPDATE with the wallet and the given positions."""
        now = self._clock()
        rows = []
        for pos in positions:
            spec = self._market.specs[pos.symbol]
            rows.append(
                {
                    "s": pos.symbol,
                    "pa": fixed(pos.amount, spec.quantity_precision),
                    "ep": plain(pos.entry_price),
                    "bep": plain(pos.break_even_price),
                    "cr": fixed(pos.realized, 8),
                    "up": fixed(pos.unrealized_pnl(self._market.quotes[pos.symbol].mark), 8),
                    "mt": "isolated" if pos.symbol in account.isolated else "cross",
                    "iw": "0",
                    "ps": pos.position_side,
                }
            )
        balance = fixed(account.wallet, 8)
        self._emit(
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


@dataclass(slots=True)
class ListenKey:
    key: str
    account: str
    expires_ms: int


class ListenKeys:
    """User-data stream keys: one per account, extended by keepalives, expiring after a TTL.

    Iterating gives the keys.
    """

    def __init__(self, ttl_ms: int, ids: IdSource, clock: Callable[[], int], emit: Emit) -> None:
        self._ttl_ms = ttl_ms
        self._ids = ids
        self._clock = clock
        self._emit = emit
        self._keys: dict[str, ListenKey] = {}

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def create(self, account: Account) -> dict:
        """POST /fapi/v1/listenKey: the account's key (extended), or a new one."""
        now = self._clock()
        for lk in self._keys.values():
            if lk.account == account.name:
                lk.expires_ms = now + self._ttl_ms
                return {"listenKey": lk.key}
        key = self._ids.random_id(64)
        self._keys[key] = ListenKey(key, account.name, now + self._ttl_ms)
        return {"listenKey": key}

    def keepalive(self, account: Account) -> dict:
        """PUT /fapi/v1/listenKey."""
        for lk in self._keys.values():
            if lk.account == account.name:
                lk.expires_ms = self._clock() + self._ttl_ms
                return {"listenKey": lk.key}
        raise err.LISTEN_KEY_INVALID

    def close(self, account: Account) -> dict:
        """DELETE /fapi/v1/listenKey."""
        for key in [k for k, lk in self._keys.items() if lk.account == account.name]:
            del self._keys[key]
        return {}

    def account_of(self, key: str) -> str | None:
        lk = self._keys.get(key)
        return lk.account if lk else None

    def of(self, account: Account) -> list[str]:
        return [lk.key for lk in self._keys.values() if lk.account == account.name]

    def expire(self, now: int, *, every: bool = False) -> int:
        """Drop the keys past their TTL (*every* key), telling their streams
        (listenKeyExpired); returns how many."""
        expired = [(key, lk) for key, lk in self._keys.items() if every or lk.expires_ms <= now]
        for key, lk in expired:
            del self._keys[key]
            self._emit(lk.account, {"e": "listenKeyExpired", "E": now, "listenKey": key})
        return len(expired)
