"""What the gateway's routes need from the rest of riskd (on Ray, its actors), as plain data."""

from __future__ import annotations

from typing import Protocol

from riskd.fmz.request import Method, Params
from riskd.health import JobStatus
from riskd.protect.flatten import FlattenRequest


class BackendUnavailable(Exception):
    """What a request needs is not running (yet, or any more): a 503, worth a retry."""

    def __init__(self, message: str = "a riskd actor this needs is not running; try again") -> None:
        super().__init__(message)


class Backend(Protocol):
    """What the routes ask of riskd. Any method may raise :class:`BackendUnavailable`. The
    operators' changes raise ValueError naming what is wrong with the request, LookupError
    when an id names nothing, and ``add_lock`` SymbolListUnavailable when riskd cannot check
    the symbol."""

    async def health_rows(self) -> list[JobStatus]:
        """Every job's state and health, in plan order."""

    async def book_health(self, account: str) -> dict:
        """The account's position book: its ``silent`` sources and ``stream_missed`` changes."""

    async def alerter_health(self) -> dict:
        """The Alerter's ``last_tick_ms``, ``last_error`` and ``receivers`` (their
        ``failures`` in a row and ``last_error``)."""

    async def positions(self, account: str) -> dict:
        """The account's position book as ``GET /v1/positions`` shows it."""

    async def check_key(self, account: str) -> dict:
        """Read now what the account's API key may do (its AccountReader); the check, as
        ``riskd.exchange.key_safety.KeyCheck.to_dict`` gives it."""

    async def ladder_rungs(self, account: str) -> list[dict]:
        """The account's open stop-ladder rungs (``actors.stop_ladder.StopLadder.rungs``)."""

    async def equity(self, account: str, hours: int) -> dict:
        """The account's equity per recorded minute over the last *hours*: ``{account,
        assets, start_ms, end_ms, points: [[minute_ms, "equity"], ...]}``."""

    async def order_summary(self, account: str, hours: int) -> dict:
        """Per robot of *account*, the gate's passed and refused orders over the last
        *hours*: ``{account, since_ms, robots: [{robot, passed, refused, last_refusal,
        last_refused_ms}]}``."""

    async def locks(self, account: str) -> list[dict]:
        """The account's active locks."""

    async def add_lock(self, account: str, body: object) -> dict:
        """Add an operator's lock as *body* describes it; the lock."""

    async def unlock(self, account: str, lock_id: int, operator: str, reason: str) -> dict:
        """End lock *lock_id* now, audited under *operator*; the lock."""

    async def trading_state(self, account: str) -> dict:
        """The account's trading state."""

    async def set_trading_state(self, account: str, body: object) -> dict:
        """Set the trading state *body* describes; the new state."""

    async def alerts(self) -> list[dict]:
        """Every firing alert."""

    async def recent_alerts(self, hours: int, limit: int) -> list[dict]:
        """What the Alerter told its first receiver over the last *hours*, newest first: one
        row per alert of each of the newest *limit* notifications (``{told_ms, delivery, name,
        labels, severity, state, starts_ms, ends_ms}``)."""

    async def silences(self) -> list[dict]:
        """Every current silence."""

    async def add_silence(self, body: object) -> dict:
        """Add the silence *body* describes; the silence."""

    async def expire_silence(self, silence_id: int, operator: str) -> dict:
        """End silence *silence_id* now, in *operator*'s name; the silence."""

    async def kline_history(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list]:
        """Stored closed klines as Binance's 12-field arrays, oldest first, opened from
        *start_ms* up to *end_ms* (inclusive, None: unbounded): the first *limit* of them
        when *start_ms* is given, else the last *limit* (as ``GET /fapi/v1/klines``)."""

    async def fmz(self, account: str, robot: str, method: Method, params: Params) -> dict:
        """The FMZ answer (``{"data", "raw"}`` or ``{"error"}``) to *robot*'s account method,
        from *account*'s Trader (orders pass the pre-trade gate there)."""

    async def orders(self, account: str, robot: str | None, limit: int) -> list[dict]:
        """The newest *limit* gate decisions of *account* (of *robot* if given)."""

    async def flatten(self, account: str, request: FlattenRequest) -> dict:
        """Run an operator's emergency flatten of *account* in its Trader; its report
        (``riskd.protect.flatten.FlattenReport.to_dict``). LookupError: the robot or the
        symbol is unknown there; FlattenBusy: a flatten of the account is running."""

    async def pnl(self, account: str, by: str, hours: int, robot: str | None) -> dict:
        """*account*'s PnL over the last *hours* per robot or symbol (*by*), of *robot* only
        when given: ``riskd.pnl.report.PnlReport.to_dict``."""

    async def daily_report(self, account: str, by: str | None, days: int) -> dict:
        """*account*'s figures per UTC day over the last *days* days, with rows per robot or
        symbol when *by* is given: ``riskd.pnl.daily.DailyReport.to_dict``."""
