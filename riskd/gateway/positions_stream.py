"""``GET /v1/positions/stream[?account=NAME]`` (WebSocket): the account's position book as
``GET /v1/positions`` shows it, each position with its stop-ladder rungs and its distance to
liquidation, first at once, then whenever it changes. Each stream reads the book (and the
StopLadder's rungs) every POLL_MS and sends only what differs from what it sent last.

A message is ``{account, now_ms, positions: [{...the book's fields, rungs, liquidation_distance}],
balances, sources}``: ``rungs`` lists the open rungs ``{rung, trigger_price, quantity,
close_position}`` nearest the price first (null when the StopLadder does not answer within
ANSWER_TIMEOUT_S), and ``liquidation_distance`` is |mark − liquidation| / mark as a decimal
string (null when either is unknown). While the book does not answer (or not within
ANSWER_TIMEOUT_S), the stream sends ``{account, error}`` once and keeps trying: a busy or
stuck actor never freezes it. Messages from the client are ignored; streams close with 1001
on shutdown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from aiohttp import web

from riskd.gateway.accounts import Accounts
from riskd.gateway.limits import ConnectionSlots, connection_slots
from riskd.gateway.market import checked_query
from riskd.gateway.ports import Backend, BackendUnavailable
from riskd.gateway.push import PushStreams

POLL_MS: Final = 500
ANSWER_TIMEOUT_S: Final = 2.0
"""How long one poll waits for the book's or the StopLadder's answer."""
RUNG_FIELDS: Final = ("rung", "trigger_price", "quantity", "close_position")
DISTANCE_QUANTUM: Final = Decimal("0.0001")


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def liquidation_distance(position: dict[str, Any]) -> str | None:
    """|mark − liquidation| / mark of a position as the book shows it, to 4 decimals; None
    when the mark or a liquidation price (Binance sends 0 for none) is unknown."""
    mark = _decimal(position.get("mark_price"))
    liquidation = _decimal(position.get("liquidation_price"))
    if not mark or not liquidation:
        return None
    return f"{(abs(mark - liquidation) / mark).quantize(DISTANCE_QUANTUM):f}"


def with_rungs(view: dict[str, Any], rungs: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    """*view* (``GET /v1/positions``'s) with each position's *rungs* (None: unknown), nearest
    its mark first, and its distance to liquidation."""
    positions = []
    for position in view.get("positions", []):
        own = None
        if rungs is not None:
            mark = _decimal(position.get("mark_price")) or Decimal(0)
            own = sorted(
                (
                    {key: rung[key] for key in RUNG_FIELDS}
                    for rung in rungs
                    if (rung["symbol"], rung["position_side"])
                    == (position["symbol"], position["position_side"])
                ),
                key=lambda rung: abs(Decimal(rung["trigger_price"]) - mark),
            )
        distance = liquidation_distance(position)
        positions.append({**position, "rungs": own, "liquidation_distance": distance})
    return {**view, "positions": positions}


class _PositionsStream:
    def __init__(self, backend: Backend, accounts: Accounts, slots: ConnectionSlots) -> None:
        self._backend = backend
        self._accounts = accounts
        self._streams = PushStreams(slots)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        query = checked_query(request, frozenset({"account"}))
        account = self._accounts.resolve(query.get("account"))
        return await self._streams.serve(request, self._changes(account))

    async def _changes(self, account: str) -> AsyncIterator[str]:
        sent: object = None
        while True:
            message = await self._read(account)
            unchanged = {key: value for key, value in message.items() if key != "now_ms"}
            if unchanged != sent:
                sent = unchanged
                yield json.dumps(message, separators=(",", ":"))
            await asyncio.sleep(POLL_MS / 1000)

    async def _read(self, account: str) -> dict[str, Any]:
        try:
            view = await asyncio.wait_for(self._backend.positions(account), ANSWER_TIMEOUT_S)
        except BackendUnavailable as exc:
            return {"account": account, "error": str(exc)}
        except TimeoutError:
            return {"account": account, "error": f"no answer within {ANSWER_TIMEOUT_S:g} s"}
        try:
            rungs: list[dict] | None = await asyncio.wait_for(
                self._backend.ladder_rungs(account), ANSWER_TIMEOUT_S
            )
        except (BackendUnavailable, TimeoutError):
            rungs = None
        return with_rungs(view, rungs)

    async def shutdown(self, _app: web.Application) -> None:
        await self._streams.close_all()


def add_positions_stream(app: web.Application, backend: Backend, accounts: Sequence[str]) -> None:
    """``GET /v1/positions/stream`` for *accounts*, read from *backend*."""
    routes = _PositionsStream(backend, Accounts(tuple(accounts)), connection_slots(app))
    app.router.add_get("/v1/positions/stream", routes.stream)
    app.on_shutdown.append(routes.shutdown)
