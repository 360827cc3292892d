"""bench/invariants.py: each finding of ``check`` triggered by a minimal case, none on a clean
one; the capture's SQL and exchange sides on a real schema and an in-process simulator."""

from __future__ import annotations

import dataclasses
import importlib
import json
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import insert

from riskd.protect.ladder import rung_client_id
from riskd.sim import SimConfig, SimServer
from riskd.store.engine import make_engine
from riskd.store.schema import (
    alert_outbox,
    banlist_versions,
    income,
    init_schema,
    ledger_cursors,
    locks,
    order_decisions,
    trading_states,
)

BENCH = Path(__file__).resolve().parents[2] / "bench"
ACCOUNT = "sim"
NOW = 1_700_000_000_000
LONG_AGO = NOW - 600_000


@pytest.fixture
def inv(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("invariants")


# ---------------------------------------------------------------- hand-made evidence


def income_row(inv: ModuleType, tran_id: int, amount: str = "-0.5", time_ms: int = LONG_AGO):
    return inv.IncomeRow(tran_id, "COMMISSION", "BTCUSDT", Decimal(amount), time_ms)


def rung(
    inv: ModuleType,
    index: int,
    quantity: str = "0.010",
    *,
    generation: int = 1,
    symbol: str = "BTCUSDT",
    position_side: str = "BOTH",
    side: str = "SELL",
    account: str = ACCOUNT,
    close: bool = False,
    created_ms: int = LONG_AGO,
    status: str = "NEW",
):
    return inv.AlgoRow(
        client_algo_id=rung_client_id(account, symbol, position_side, generation, index),
        symbol=symbol,
        position_side=position_side,
        side=side,
        order_type="STOP_MARKET",
        status=status,
        quantity=Decimal(0) if close else Decimal(quantity),
        close_position=close,
        created_ms=created_ms,
    )


def ladder(inv: ModuleType, generation: int = 1, **kwargs) -> tuple:
    """Five rungs of 0.010: a full ladder of a 0.050 long."""
    return tuple(rung(inv, i, generation=generation, **kwargs) for i in range(5))


def position(inv: ModuleType, amount: str = "0.050", updated: int = LONG_AGO, **kwargs):
    fields = {"symbol": "BTCUSDT", "position_side": "BOTH"} | kwargs
    return inv.PositionRow(amount=Decimal(amount), update_ms=updated, **fields)


def banlist_json(version: int = 7, valid_until: int = NOW + 20_000, lock_ids=(3,), **extra):
    body = {
        "account": ACCOUNT,
        "version": version,
        "generated_at": NOW - 5_000,
        "valid_until": valid_until,
        "state": "ACTIVE",
        "all": False,
        "locks": [
            {
                "id": lock_id,
                "symbol": "DOGEUSDT",
                "side": "both",
                "reason_code": "PNL",
                "reason_text": "loss",
                "source": "rule:symbol_fault",
                "created": NOW - 60_000,
                "until": NOW + 60_000,
                "robot": "",
            }
            for lock_id in lock_ids
        ],
    } | extra
    return json.dumps(body)


def notification(group: str = "g1", names=("SymbolLocked",), at_ms: int = NOW - 60_000) -> str:
    alert = {
        "labels": [["account", ACCOUNT]],
        "severity": "warning",
        "starts_ms": NOW - 90_000,
        "updated_ms": at_ms,
        "ends_ms": None,
        "figures": [],
        "action": "",
    }
    return json.dumps(
        {
            "group_key": group,
            "group_labels": [["account", ACCOUNT]],
            "firing": [{"name": name, **alert} for name in names],
            "resolved": [],
            "at_ms": at_ms,
        }
    )


def outbox(inv: ModuleType, row_id: int, status: str = "sent", created: int = LONG_AGO, **kw):
    return inv.OutboxRow(
        row_id, kw.pop("receiver", "console"), status, created, kw.pop("text", notification())
    )


def clean(inv: ModuleType):
    """Evidence of a deployment that kept every promise."""
    booked = tuple(income_row(inv, i) for i in (1, 2, 3))
    return inv.Evidence(
        account=ACCOUNT,
        now_ms=NOW,
        exchange_income=booked,
        ledger_income=booked,
        income_read_ms=NOW - 5_000,
        positions=(position(inv),),
        algo_orders=ladder(inv),
        banlist_json=banlist_json(),
        active_locks=(inv.ActiveLock(3, NOW + 60_000),),
        sql_banlist=inv.BanListVersion(7, NOW - 5_000, NOW + 20_000),
        outbox=(
            outbox(inv, 1),
            outbox(inv, 2, receiver="feishu"),
            outbox(inv, 3, text=notification(names=("SymbolLocked", "AllLocked"))),
        ),
        decisions_recorded=40,
        orders_sent=40,
    )


def test_a_clean_deployment_has_no_finding(inv: ModuleType) -> None:
    found = inv.check(clean(inv))
    assert found.ok
    assert found == inv.Findings()
    assert found.summary() == "lost 0, duplicates 0, orphans 0, bare 0, stale 0"
    assert found.describe() == []


# ---------------------------------------------------------------- income


def test_a_due_exchange_row_missing_from_sql_is_lost(inv: ModuleType) -> None:
    evidence = clean(inv)
    missing = income_row(inv, 9, time_ms=NOW - 10_000)  # before the Ledger's read mark
    found = inv.check(
        dataclasses.replace(evidence, exchange_income=(*evidence.exchange_income, missing))
    )
    assert (found.income_lost, found.lost, found.ok) == (1, 1, False)
    assert found.describe() == [
        f"income lost: COMMISSION 9 BTCUSDT -0.5 at {NOW - 10_000} not booked"
    ]


def test_income_not_due_yet_is_not_lost(inv: ModuleType) -> None:
    """After the Ledger's read mark and younger than the lag target: the next pass books it."""
    evidence = clean(inv)
    young = income_row(inv, 9, time_ms=NOW - 1_000)
    early = income_row(inv, 10, time_ms=0)  # before income_since_ms: not riskd's to book
    evidence = dataclasses.replace(
        evidence, exchange_income=(*evidence.exchange_income, young, early), income_since_ms=1
    )
    assert inv.check(evidence).ok


def test_income_older_than_the_lag_is_due_even_when_the_ledger_reads_nothing(
    inv: ModuleType,
) -> None:
    evidence = dataclasses.replace(clean(inv), ledger_income=(), income_read_ms=None)
    assert inv.check(evidence).income_lost == 3


def test_income_booked_with_another_amount_is_lost(inv: ModuleType) -> None:
    evidence = clean(inv)
    wrong = (income_row(inv, 1, "-0.25"), *evidence.ledger_income[1:])
    found = inv.check(dataclasses.replace(evidence, ledger_income=wrong))
    assert found.income_lost == 1
    assert "booked as -0.25, the exchange has -0.5" in found.describe()[0]


def test_income_amounts_compare_as_decimals(inv: ModuleType) -> None:
    evidence = clean(inv)
    padded = tuple(
        dataclasses.replace(r, amount=Decimal("-0.500000000000000000"))
        for r in evidence.ledger_income
    )
    assert inv.check(dataclasses.replace(evidence, ledger_income=padded)).ok


def test_income_booked_twice_or_unknown_to_the_exchange_is_duplicated(inv: ModuleType) -> None:
    evidence = clean(inv)
    extra = (*evidence.ledger_income, income_row(inv, 2), income_row(inv, 99))
    found = inv.check(dataclasses.replace(evidence, ledger_income=extra))
    assert (found.income_duplicated, found.duplicates, found.income_lost) == (2, 2, 0)
    assert sorted(found.describe()) == [
        "income duplicated: COMMISSION 2 booked 2 times",
        "income duplicated: COMMISSION 99 BTCUSDT -0.5 booked, not on the exchange",
    ]


# ---------------------------------------------------------------- stops and positions


def test_a_rung_open_twice_is_duplicated(inv: ModuleType) -> None:
    evidence = clean(inv)
    found = inv.check(
        dataclasses.replace(evidence, algo_orders=(*evidence.algo_orders, rung(inv, 2)))
    )
    assert (found.stops_duplicated, found.positions_bare) == (1, 0)
    assert found.describe() == ["stop duplicated: BTCUSDT BOTH g1 rung 2 open 2×"]


def test_two_generations_left_open_are_duplicated(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), algo_orders=(*ladder(inv, 1), *ladder(inv, 2)))
    found = inv.check(evidence)
    assert found.stops_duplicated == 5  # generation 1 beside the live generation 2
    assert found.describe() == ["stop duplicated: BTCUSDT BOTH: g1 open beside live g2"]


def test_the_live_generation_is_the_newest_that_covers(inv: ModuleType) -> None:
    """Generation 2 lacks rungs (its placement failed): generation 1 is live, 2 is left over."""
    pending = tuple(rung(inv, i, generation=2) for i in (0, 1))
    evidence = dataclasses.replace(clean(inv), algo_orders=(*ladder(inv, 1), *pending))
    found = inv.check(evidence)
    assert (found.stops_duplicated, found.positions_bare) == (2, 0)
    assert found.describe() == ["stop duplicated: BTCUSDT BOTH: g2 open beside live g1"]


def test_a_re_ladder_in_progress_is_no_duplicate(inv: ModuleType) -> None:
    newer = ladder(inv, 2, created_ms=NOW - 500)  # placed within the ladder target
    evidence = dataclasses.replace(clean(inv), algo_orders=(*ladder(inv, 1), *newer))
    assert inv.check(evidence).ok


def test_the_rungs_of_a_flat_position_are_orphans(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), positions=())  # flat, since when unknown
    found = inv.check(evidence)
    assert (found.stops_orphaned, found.orphans, found.stops_duplicated) == (5, 5, 0)
    assert found.describe()[0].startswith("stop orphaned: rl")
    assert found.describe()[0].endswith(".0.BTCUSDT (BTCUSDT BOTH is flat)")
    assert found.describe()[-1] == "stop orphaned: and 2 more"


def test_rungs_of_a_position_just_closed_are_not_orphans_yet(inv: ModuleType) -> None:
    evidence = clean(inv)
    flat = position(inv, "0", updated=NOW - 500)
    assert inv.check(dataclasses.replace(evidence, positions=(flat,))).ok
    flat = position(inv, "0", updated=NOW - 5_000)
    assert inv.check(dataclasses.replace(evidence, positions=(flat,))).stops_orphaned == 5


def test_the_targets_count_from_the_recovery(inv: ModuleType) -> None:
    """Flat or bare for long, but recovery began 1 s ago: within the 2 s ladder target."""
    recent = dataclasses.replace(clean(inv), recovery_began_ms=NOW - 1_000)
    assert inv.check(dataclasses.replace(recent, positions=())).ok
    assert inv.check(dataclasses.replace(recent, algo_orders=())).ok
    later = dataclasses.replace(recent, recovery_began_ms=NOW - 3_000)
    assert inv.check(dataclasses.replace(later, algo_orders=())).positions_bare == 1


def test_exchange_times_compare_with_the_exchange_clock(inv: ModuleType) -> None:
    ahead = dataclasses.replace(clean(inv), exchange_now_ms=NOW + 60_000, positions=())
    flat = position(inv, "0", updated=NOW + 59_500)  # 0.5 s ago on the exchange's clock
    assert inv.check(dataclasses.replace(ahead, positions=(flat,))).ok
    recovering = dataclasses.replace(ahead, recovery_began_ms=NOW - 1_000)
    assert inv.check(recovering).ok  # 1 s ago on riskd's clock is 1 s ago on the exchange's


def test_rungs_of_other_accounts_and_orders_not_open_are_not_riskds(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), positions=())
    foreign = dataclasses.replace(evidence, algo_orders=ladder(inv, account="other"))
    assert inv.check(foreign).ok
    done = dataclasses.replace(evidence, algo_orders=ladder(inv, status="CANCELED"))
    assert inv.check(done).ok
    by_hand = dataclasses.replace(rung(inv, 0), client_algo_id="my-own-stop")
    assert inv.check(dataclasses.replace(evidence, algo_orders=(by_hand,))).ok


def test_a_position_without_stops_is_bare(inv: ModuleType) -> None:
    found = inv.check(dataclasses.replace(clean(inv), algo_orders=()))
    assert (found.positions_bare, found.bare, found.ok) == (1, 1, False)
    assert found.describe() == ["position bare: BTCUSDT BOTH 0.050 for 600000 ms, stops cover 0"]


def test_a_position_that_just_changed_is_not_bare_yet(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), positions=(position(inv, "0.080", NOW - 500),))
    assert inv.check(evidence).ok


def test_a_ladder_missing_a_rung_leaves_the_position_bare(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), algo_orders=ladder(inv)[:4])
    found = inv.check(evidence)
    assert found.positions_bare == 1
    assert found.describe() == [
        "position bare: BTCUSDT BOTH 0.050 for 600000 ms, stops cover 0.040"
    ]


def test_a_ladder_covers_within_the_resize_threshold(inv: ModuleType) -> None:
    evidence = clean(inv)
    assert inv.check(dataclasses.replace(evidence, positions=(position(inv, "0.0525"),))).ok
    grown = dataclasses.replace(evidence, positions=(position(inv, "0.0526"),))
    assert inv.check(grown).positions_bare == 1
    shrunk = dataclasses.replace(evidence, positions=(position(inv, "0.020"),))
    assert inv.check(shrunk).ok  # more stop than position: still protected


def test_a_close_position_rung_covers_any_size(inv: ModuleType) -> None:
    lone = (rung(inv, 0, close=True),)
    evidence = dataclasses.replace(clean(inv), algo_orders=lone, positions=(position(inv, "7"),))
    assert inv.check(evidence).ok


def test_stops_on_the_wrong_side_do_not_cover(inv: ModuleType) -> None:
    """A one-way position flipped short under its long's SELL stops."""
    short = position(inv, "-0.050")
    found = inv.check(dataclasses.replace(clean(inv), positions=(short,)))
    assert (found.positions_bare, found.stops_orphaned) == (1, 0)


def test_hedge_positions_are_judged_apart(inv: ModuleType) -> None:
    long = position(inv, "0.050", position_side="LONG")
    short = position(inv, "-0.050", position_side="SHORT")
    rungs = (*ladder(inv, position_side="LONG"), *ladder(inv, position_side="SHORT", side="BUY"))
    evidence = dataclasses.replace(clean(inv), positions=(long, short), algo_orders=rungs)
    assert inv.check(evidence).ok
    found = inv.check(dataclasses.replace(evidence, algo_orders=rungs[:5]))
    assert found.describe() == ["position bare: BTCUSDT SHORT -0.050 for 600000 ms, stops cover 0"]


# ---------------------------------------------------------------- the ban list


def test_an_expired_or_missing_list_is_not_stale(inv: ModuleType) -> None:
    evidence = dataclasses.replace(clean(inv), active_locks=())  # the list's lock 3 ended
    expired = dataclasses.replace(evidence, banlist_json=banlist_json(valid_until=NOW))
    found = inv.check(expired)
    assert (found.ok, found.banlist_expired) == (True, True)
    assert inv.check(dataclasses.replace(evidence, banlist_json=None)).ok


def test_a_valid_list_with_other_locks_than_sql_is_stale(inv: ModuleType) -> None:
    evidence = clean(inv)
    more = (*evidence.active_locks, inv.ActiveLock(4, None))
    found = inv.check(dataclasses.replace(evidence, active_locks=more))
    assert (found.banlist_stale, found.stale, found.ok) == (1, 1, False)
    assert found.describe() == [
        "ban list stale: v7 valid 20000 ms more: locks [3], SQL's active [3, 4]"
    ]
    assert inv.check(dataclasses.replace(evidence, active_locks=())).banlist_stale == 1


def test_locks_past_their_end_do_not_count(inv: ModuleType) -> None:
    """SQL still holds lock 4 active, but it ended: the Ledger's next pass expires it."""
    evidence = clean(inv)
    ended = (*evidence.active_locks, inv.ActiveLock(4, NOW - 1))
    assert inv.check(dataclasses.replace(evidence, active_locks=ended)).ok


def test_a_valid_list_with_another_state_than_sql_is_stale(inv: ModuleType) -> None:
    found = inv.check(dataclasses.replace(clean(inv), sql_state="HALTED"))
    assert found.describe() == [
        "ban list stale: v7 valid 20000 ms more: state ACTIVE, SQL's HALTED"
    ]


def test_a_valid_list_behind_sql_is_stale_once_publishing_is_late(inv: ModuleType) -> None:
    evidence = clean(inv)
    in_flight = dataclasses.replace(
        evidence, sql_banlist=inv.BanListVersion(8, NOW - 500, NOW + 30_000), active_locks=()
    )
    assert inv.check(in_flight).ok  # just written; its locks are not compared
    late = dataclasses.replace(
        in_flight, sql_banlist=inv.BanListVersion(8, NOW - 3_000, NOW + 30_000)
    )
    found = inv.check(late)
    assert found.describe() == ["ban list stale: v7 valid 20000 ms more, SQL's v8 is 3000 ms old"]


def test_a_valid_list_sql_never_recorded_is_stale(inv: ModuleType) -> None:
    evidence = clean(inv)
    ahead = dataclasses.replace(evidence, sql_banlist=inv.BanListVersion(6, NOW - 9_000, NOW))
    assert inv.check(ahead).describe() == [
        "ban list stale: v7 valid 20000 ms more, ahead of SQL's v6"
    ]
    none = dataclasses.replace(evidence, sql_banlist=None)
    assert inv.check(none).describe() == [
        "ban list stale: v7 valid 20000 ms more, but SQL records no version"
    ]


def test_an_unreadable_list_is_stale(inv: ModuleType) -> None:
    found = inv.check(dataclasses.replace(clean(inv), banlist_json='{"account": "sim"}'))
    assert found.banlist_stale == 1
    assert found.describe()[0].startswith("ban list stale: the gateway's list is unreadable")


# ---------------------------------------------------------------- alerts and decisions


def test_the_same_telling_twice_to_a_receiver_is_duplicated(inv: ModuleType) -> None:
    """Flushed again (another at_ms) after a restart, with the same firing alerts."""
    evidence = clean(inv)
    again = outbox(inv, 4, "pending", NOW - 1_000, text=notification(at_ms=NOW - 1_000))
    found = inv.check(dataclasses.replace(evidence, outbox=(*evidence.outbox, again)))
    assert (found.alerts_duplicated, found.duplicates, found.alerts_undelivered) == (1, 1, 0)
    assert found.describe() == [
        "alert duplicated: #4 to console tells again (599000 ms later): SymbolLocked"
    ]


def test_a_repeat_after_the_repeat_interval_is_no_duplicate(inv: ModuleType) -> None:
    first = outbox(inv, 1, created=NOW - 3_700_000)
    repeat = outbox(inv, 2, created=NOW - 60_000)
    assert inv.check(dataclasses.replace(clean(inv), outbox=(first, repeat))).ok


def test_notifications_left_pending_or_failed_are_undelivered(inv: ModuleType) -> None:
    rows = (
        outbox(inv, 1, "pending", NOW - 10_000),
        outbox(inv, 2, "failed", NOW - 1_000, receiver="feishu"),
        outbox(inv, 3, "pending", NOW - 1_000, text=notification("g2")),  # in flight
    )
    found = inv.check(dataclasses.replace(clean(inv), outbox=rows))
    assert (found.alerts_undelivered, found.lost, found.alerts_duplicated) == (2, 2, 0)
    assert found.describe() == [
        "alert undelivered: #1 to console pending for 10000 ms: SymbolLocked",
        "alert undelivered: #2 to feishu failed for 1000 ms: SymbolLocked",
    ]


def test_orders_answered_without_a_decision_are_lost(inv: ModuleType) -> None:
    found = inv.check(dataclasses.replace(clean(inv), decisions_recorded=37))
    assert (found.decisions_lost, found.lost) == (3, 3)
    assert found.describe() == ["gate decisions lost: 40 orders answered, 37 recorded"]
    extra = inv.check(dataclasses.replace(clean(inv), decisions_recorded=41))
    assert (extra.ok, extra.decisions_extra) == (True, 1)  # an answer lost on its way


def test_findings_add_up_for_the_table(inv: ModuleType) -> None:
    evidence = dataclasses.replace(
        clean(inv), ledger_income=(), algo_orders=(), decisions_recorded=39, sql_state="HALTED"
    )
    found = inv.check(evidence)
    assert found.summary() == "lost 4, duplicates 0, orphans 0, bare 1, stale 1"


# ---------------------------------------------------------------- the capture


def test_read_sql_takes_riskds_side(inv: ModuleType, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")
    init_schema(engine, NOW)
    lock = {
        "account": ACCOUNT, "symbol": "DOGEUSDT", "side": "both", "reason_code": "PNL",
        "reason_text": "", "source": "rule:x", "robot": "", "created_ms": NOW, "until_ms": None,
    }  # fmt: skip
    decision = {
        "account": ACCOUNT, "robot": "b0", "symbol": "SOLUSDT", "side": "BUY",
        "position_side": "BOTH", "order_type": "MARKET", "quantity": Decimal("0.1"),
        "reduce_only": False, "passed": True, "detail": "", "decided_ms": NOW,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            insert(income),
            [
                {
                    "account": account,
                    "tran_id": 5,
                    "income_type": "COMMISSION",
                    "symbol": "BTCUSDT",
                    "asset": "USDT",
                    "amount": Decimal("-0.5"),
                    "time_ms": NOW - 9,
                    "trade_id": "",
                    "info": "",
                    "booked_at_ms": NOW,
                }
                for account in (ACCOUNT, "other")
            ],
        )
        conn.execute(
            insert(ledger_cursors),
            {"account": ACCOUNT, "income_next_start_ms": NOW - 60_000, "updated_at_ms": NOW},
        )
        conn.execute(
            insert(locks), [lock | {"active": True}, lock | {"active": False, "ended_ms": NOW}]
        )
        conn.execute(
            insert(banlist_versions),
            [
                {
                    "account": ACCOUNT,
                    "version": v,
                    "generated_at_ms": NOW + v,
                    "valid_until_ms": NOW + 30_000,
                    "body": "{}",
                }
                for v in (1, 2)
            ],
        )
        conn.execute(
            insert(trading_states),
            {"account": ACCOUNT, "state": "HALTED", "reason": "", "actor": "op", "at_ms": NOW},
        )
        conn.execute(
            insert(alert_outbox),
            {
                "receiver": "console",
                "created_ms": NOW,
                "notification": notification(),
                "status": "sent",
                "attempts": 1,
                "next_attempt_ms": NOW,
                "last_error": "",
            },
        )
        conn.execute(insert(order_decisions), [decision, decision | {"decided_ms": NOW - 10}])
    with engine.connect() as conn, conn.begin():
        sql = inv.read_sql(conn, ACCOUNT, decisions_since_ms=NOW - 5)
    engine.dispose()
    assert sql == {
        "ledger_income": (inv.IncomeRow(5, "COMMISSION", "BTCUSDT", Decimal("-0.5"), NOW - 9),),
        "income_read_ms": NOW,
        "active_locks": (inv.ActiveLock(1, None),),
        "sql_banlist": inv.BanListVersion(2, NOW + 2, NOW + 30_000),
        "sql_state": "HALTED",
        "outbox": (inv.OutboxRow(1, "console", "sent", NOW, notification()),),
        "decisions_recorded": 1,
    }


def test_read_exchange_takes_the_simulators_side(inv: ModuleType) -> None:
    account = {"name": ACCOUNT, "api_key": "k", "api_secret": "s"}
    config = {"port": 0, "accounts": [account], "exchange": {"walk_interval_ms": 0}}
    server = SimServer(SimConfig.model_validate(config))
    exchange = server.exchange
    held = exchange.account_by_key("k")
    assert held is not None
    mark = Decimal(exchange.state()["prices"]["BTCUSDT"]["mark"])
    for symbol, side in (("BTCUSDT", "BUY"), ("ETHUSDT", "BUY"), ("ETHUSDT", "SELL")):
        exchange.new_order(
            held, {"symbol": symbol, "side": side, "type": "MARKET", "quantity": "0.050"}
        )
    stop = {
        "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
        "triggerPrice": str((mark * Decimal("0.9")).quantize(Decimal("0.1"))),
        "closePosition": "true", "clientAlgoId": rung_client_id(ACCOUNT, "BTCUSDT", "BOTH", 1, 0),
    }  # fmt: skip
    exchange.new_algo_order(held, stop)

    time_ms, positions, algos, booked = inv.read_exchange(server, "another name: the only one")

    assert abs(time_ms - server.clock.now_ms()) < 5_000
    assert sorted((p.symbol, p.amount) for p in positions) == [
        ("BTCUSDT", Decimal("0.050")),
        ("ETHUSDT", Decimal(0)),  # flat, with the time it went flat
    ]
    assert [(a.client_algo_id, a.close_position, a.status) for a in algos] == [
        (stop["clientAlgoId"], True, "NEW")
    ]
    assert {row.income_type for row in booked} >= {"COMMISSION"}
    evidence = inv.Evidence(
        account=ACCOUNT,
        now_ms=time_ms,
        exchange_now_ms=time_ms,
        exchange_income=booked,
        ledger_income=booked,
        positions=positions,
        algo_orders=algos,
    )
    assert inv.check(evidence).ok


def test_read_banlist_without_a_gateway_is_none(inv: ModuleType) -> None:
    assert inv.read_banlist("http://127.0.0.1:9", ACCOUNT, None, 1.0) is None
