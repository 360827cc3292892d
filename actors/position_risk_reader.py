"""PositionRiskReader: entry, mark and liquidation prices from GET /fapi/v3/positionRisk."""

from __future__ import annotations

from actors.base import Job
from riskd.exchange.parse import parse_position_risk


class PositionRiskReader(Job):
    """Reads every position's risk (weight 5) every interval into the PositionBook."""

    async def step(self) -> None:
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/positionRisk", self.access.client.futures_position_information
        )
        await self.position_book.apply.remote(parse_position_risk(body, taken_at, complete=True))
