"""PositionRiskReader: entry, mark and liquidation prices from GET /fapi/v3/positionRisk."""

from __future__ import annotations

import ray
from riskd.exchange.parse import parse_position_risk

from actors.base import Job
from actors.context import ConfigSource, position_book_name
from riskd.plan import JobSpec


class PositionRiskReader(Job):
    """Reads every position's risk (weight 5) every interval into the PositionBook."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.book = ray.get_actor(position_book_name(spec.account), namespace=self.deployment)

    async def step(self) -> None:
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/positionRisk", self.access.client.futures_position_information
        )
        await self.book.apply.remote(parse_position_risk(body, taken_at, complete=True))
