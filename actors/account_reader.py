"""AccountReader: balances and positions from GET /fapi/v3/account into the PositionBook."""

from __future__ import annotations

import ray
from riskd.exchange.parse import parse_account

from actors.base import Job
from actors.context import ConfigSource, position_book_name
from riskd.plan import JobSpec


class AccountReader(Job):
    """Reads the account (weight 5) every interval; REST truth for balances and positions."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.book = ray.get_actor(position_book_name(spec.account), namespace=self.deployment)

    async def step(self) -> None:
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/account", lambda: self.access.client.futures_account(version=3)
        )
        await self.book.apply.remote(parse_account(body, taken_at))
