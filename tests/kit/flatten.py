"""Samples for the emergency flatten: requests, open algo orders, the filters of a symbol with
a small MARKET_LOT_SIZE, and the report of a flatten that found nothing open (what the
FakeBackend answers)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from riskd.protect.flatten import (
    FlattenProgress,
    FlattenRequest,
    FlattenScope,
    FlattenStep,
    StepStatus,
)
from riskd.risk.attribution import Attribution
from tests.kit.samples import BTC

STARTED_MS = 1_700_000_000_000
# BTCUSDT with a MARKET_LOT_SIZE of 0.010 to 0.500, step 0.005: small enough to slice by hand.
SMALL_LOTS = replace(
    BTC,
    market_step_size=Decimal("0.005"),
    market_min_qty=Decimal("0.010"),
    market_max_qty=Decimal("0.500"),
)
ROBOTS = Attribution([("rb-r1-", "r1"), ("rb-r2-", "r2"), ("r2x.", "r2")])
"""Robots r1 and r2 (r2 also trades directly with client ids starting ``r2x.``)."""


def request(symbol: str = "", robot: str = "") -> FlattenRequest:
    """A flatten by alice of *symbol* (every one by default) of *robot* (every robot's)."""
    return FlattenRequest(FlattenScope(symbol, robot), "alice", "drill")


def flatten_body(**fields: object) -> bytes:
    """POST /v1/flatten's body: alice's flatten of the account, but for *fields*."""
    return json.dumps({"operator": "alice", "reason": "drill"} | fields).encode()


def nothing_open_report(account: str, wanted: FlattenRequest, ended_ms: int) -> dict:
    """The report of a flatten of *account* that stopped new risk and found nothing open."""
    progress = FlattenProgress(account, wanted, ended_ms - 10)
    progress.step(FlattenStep.STOP, StepStatus.DONE, "the account is HALTED")
    progress.cancels_finished()
    progress.positions_read({})
    progress.closed()
    return progress.report(ended_ms).to_dict()
