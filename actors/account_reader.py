"""AccountReader: balances and positions from GET /fapi/v3/account into the PositionBook."""

from __future__ import annotations

from actors.base import Job
from riskd.exchange.parse import parse_account


class AccountReader(Job):
    """Reads the account (weight 5) every interval; REST truth for balances and positions."""

    async def step(self) -> None:
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/account", lambda: self.access.client.futures_account(version=3)
        )
        await self.position_book.apply.remote(parse_account(body, taken_at))
