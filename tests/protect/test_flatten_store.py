"""Flattens in SQL (``flattens``), on SQLite and MariaDB: written when one starts, again with
its report when it ends, listed newest first."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Engine

from riskd.positions import PositionKey
from riskd.protect.flatten import FlattenProgress, FlattenStep, SliceStatus, StepStatus
from riskd.protect.flatten_store import finish_flatten, recent_flattens, start_flatten
from riskd.store.schema import init_schema
from tests.kit.flatten import SMALL_LOTS, STARTED_MS, request


def test_a_flatten_is_stored_when_it_starts_and_again_with_its_report(sql_engine: Engine) -> None:
    init_schema(sql_engine, STARTED_MS)
    wanted = request("BTCUSDT", "r1")
    with sql_engine.begin() as conn:
        flatten_id = start_flatten(conn, "main", wanted, STARTED_MS)
        other = start_flatten(conn, "spare", request(), STARTED_MS + 1)
    with sql_engine.connect() as conn:
        (running,) = recent_flattens(conn, "main")
    assert running == (
        flatten_id,
        "main",
        "robot r1 on BTCUSDT",
        "alice",
        "drill",
        STARTED_MS,
        None,
        "running",
        {},
    )

    progress = FlattenProgress("main", wanted, STARTED_MS, "rb-r1-")
    progress.step(FlattenStep.STOP, StepStatus.DONE, "locked BTCUSDT for robot r1")
    progress.cancels_finished()
    progress.positions_read(
        {PositionKey("BTCUSDT", "BOTH"): Decimal("1")}, {("r1", "BTCUSDT", "BOTH"): Decimal("1")}
    )
    slices = progress.next_slices({"BTCUSDT": SMALL_LOTS}, attempt=1)
    progress.attempts = 1
    for order in slices:
        progress.sending(order)
        progress.answered(order, SliceStatus.REJECTED, code=-2022, message="ReduceOnly rejected")
    progress.closed()
    progress.positions_read({PositionKey("BTCUSDT", "BOTH"): Decimal("1")})
    report = progress.report(STARTED_MS + 2_000)
    with sql_engine.begin() as conn:
        finish_flatten(conn, flatten_id, report)
    with sql_engine.connect() as conn:
        (ended,) = recent_flattens(conn, "main")
        (untouched,) = recent_flattens(conn, "spare")
    assert (ended.ended_ms, ended.outcome) == (STARTED_MS + 2_000, "incomplete")
    assert ended.report == json.loads(json.dumps(report.to_dict()))
    assert ended.report["left"][0]["reason"] == "rejected"
    assert len(ended.report["slices"]) == 2 and ended.report["slices"][0]["code"] == -2022
    assert (untouched.id, untouched.outcome) == (other, "running")


def test_flattens_are_listed_newest_first(sql_engine: Engine) -> None:
    init_schema(sql_engine, STARTED_MS)
    with sql_engine.begin() as conn:
        ids = [start_flatten(conn, "main", request(), STARTED_MS + k) for k in range(3)]
    with sql_engine.connect() as conn:
        assert [r.id for r in recent_flattens(conn, "main")] == ids[::-1]
        assert [r.id for r in recent_flattens(conn, "main", limit=1)] == ids[-1:]
