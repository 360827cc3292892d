"""Stop ladder decisions: rung math, client ids, re-laddering, recovery, confirm-then-cancel."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from decimal import Decimal

import pytest
from pydantic import ValidationError

from riskd.exchange.filters import SymbolFilters, check_order, parse_exchange_info
from riskd.orders import OpenAlgoOrder
from riskd.positions import PositionKey, PositionRecord
from riskd.protect.ladder import (
    MAX_GENERATION,
    RUNG_PREFIX,
    AccountActions,
    Ladder,
    LadderActions,
    LadderConfig,
    RungId,
    StopLadderConfig,
    account_tag,
    fit_to_account_limit,
    ladder_from_open_orders,
    on_would_trigger,
    parse_rung_client_id,
    plan_account,
    plan_actions,
    plan_ladder,
    reladder_reason,
    rung_client_id,
    seen_open_rungs,
    snapshot_due,
    symbol_tag,
)

D = Decimal
ACCOUNT = "main"
BINANCE_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
DEFAULT = LadderConfig()
WITH_BACKSTOP = LadderConfig(backstop=True)


def _filters(
    symbol: str,
    *,
    tick: str,
    step: str,
    min_qty: str,
    min_price: str = "0.0001",
    max_price: str = "1000000",
    max_qty: str = "1000000",
    notional: str = "5",
) -> SymbolFilters:
    body = {
        "symbols": [
            {
                "symbol": symbol,
                "status": "TRADING",
                "pricePrecision": 8,
                "quantityPrecision": 8,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "tickSize": tick,
                        "minPrice": min_price,
                        "maxPrice": max_price,
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "stepSize": step,
                        "minQty": min_qty,
                        "maxQty": max_qty,
                    },
                    {"filterType": "MIN_NOTIONAL", "notional": notional},
                ],
            }
        ]
    }
    return parse_exchange_info(body)[symbol]


BTC = _filters(
    "BTCUSDT",
    tick="0.10",
    step="0.001",
    min_qty="0.001",
    min_price="261.10",
    max_price="809484",
    max_qty="1000",
    notional="100",
)
DOGE = _filters(
    "DOGEUSDT",
    tick="0.000010",
    step="1",
    min_qty="1",
    min_price="0.002440",
    max_price="30",
    max_qty="50000000",
)
# minQty is ten steps: the case where rungs merge even though the step would split finer.
COARSE = _filters("COARSEUSDT", tick="0.001", step="0.1", min_qty="1")


def pos(
    amount: str, entry: str = "60000", *, symbol: str = "BTCUSDT", side: str = "BOTH"
) -> PositionRecord:
    return PositionRecord(
        symbol=symbol,
        position_side=side,
        amount=D(amount),
        entry_price=D(entry),
        update_time_ms=1_700_000_000_000,
    )


def plan(
    position: PositionRecord,
    filters: SymbolFilters = BTC,
    config: LadderConfig = DEFAULT,
    generation: int = 1,
) -> Ladder:
    ladder = plan_ladder(position, filters, config, account=ACCOUNT, generation=generation)
    assert ladder is not None
    return ladder


_algo_ids = itertools.count(1)


def as_open(ladder: Ladder, filters: SymbolFilters) -> list[OpenAlgoOrder]:
    """What GET /fapi/v1/openAlgoOrders lists once *ladder*'s params were accepted."""
    return [
        OpenAlgoOrder(
            algo_id=next(_algo_ids),
            client_algo_id=params["clientAlgoId"],
            symbol=params["symbol"],
            side=params["side"],
            position_side=params["positionSide"],
            order_type=params["type"],
            quantity=D(params.get("quantity", "0")),
            trigger_price=D(params["triggerPrice"]),
            working_type=params["workingType"],
            reduce_only=params.get("reduceOnly") == "true",
            close_position=params.get("closePosition") == "true",
            price_protect=params["priceProtect"] == "TRUE",
            create_time_ms=1_700_000_000_000,
            update_time_ms=1_700_000_000_000,
        )
        for params in ladder.order_params(filters)
    ]


def state_of(orders: list[OpenAlgoOrder], key: PositionKey):
    return ladder_from_open_orders(ACCOUNT, orders).get(key)


# ------------------------------------------------------------------------ config


def test_config_defaults_are_the_seeds_ladder() -> None:
    config = StopLadderConfig()
    ladder = config.for_symbol("BTCUSDT")
    assert (ladder.rungs, ladder.first_offset_pct, ladder.step_pct) == (5, D(5), D("0.5"))
    assert ladder.resize_threshold_pct == D(5)
    assert (ladder.working_type, ladder.price_protect, ladder.backstop) == (
        "MARK_PRICE",
        True,
        False,
    )
    assert config.max_algo_orders_per_account == 200


def test_symbol_override_changes_only_the_fields_it_names() -> None:
    config = StopLadderConfig.model_validate(
        {"default": {"rungs": 3, "step_pct": 1}, "symbols": {"DOGEUSDT": {"first_offset_pct": 8}}}
    )
    doge = config.for_symbol("DOGEUSDT")
    assert (doge.rungs, doge.first_offset_pct, doge.step_pct) == (3, D(8), D(1))
    assert config.for_symbol("BTCUSDT") == config.default


def test_config_rejects_offsets_that_reach_100_pct() -> None:
    with pytest.raises(ValidationError, match="below 100"):
        LadderConfig(rungs=10, first_offset_pct=D(50), step_pct=D(5))


def test_override_that_breaks_the_offsets_only_with_the_default_names_the_symbol() -> None:
    with pytest.raises(ValidationError, match=r"symbols\.XRPUSDT"):
        StopLadderConfig.model_validate(
            {"default": {"step_pct": 9}, "symbols": {"XRPUSDT": {"first_offset_pct": 60}}}
        )


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="rung_count"):
        LadderConfig.model_validate({"rung_count": 5})


# ------------------------------------------------------------------------ client ids

SYMBOLS = (
    "BTCUSDT",
    "1000PEPEUSDT",
    "BTCUSDT_250627",
    "A",
    "ABCDEFGHIJKLMNOPQRST",  # 20 characters: the longest kept as is
    "ABCDEFGHIJKLMNOPQRSTU",  # 21: hashed
    "我踏马来了USDT",  # listed on Binance; not allowed in a client id
    "币安人生USDT",
)
GENERATIONS = (1, 2, 9, 10, 35, 36, 37, 1295, 1296, 99_999, MAX_GENERATION)
RUNGS = (*range(21), 35)


def test_rung_client_ids_round_trip_fit_binance_and_never_collide() -> None:
    seen = set()
    for account, symbol, side, generation, rung in itertools.product(
        ("main", "sub-1"), SYMBOLS, ("BOTH", "LONG", "SHORT"), GENERATIONS, RUNGS
    ):
        cid = rung_client_id(account, symbol, side, generation, rung)
        assert BINANCE_ID.fullmatch(cid), cid
        assert cid.startswith(RUNG_PREFIX)
        assert parse_rung_client_id(cid) == RungId(
            account_tag(account), symbol_tag(symbol), side, generation, rung
        )
        seen.add(cid)
    assert len(seen) == 2 * len(SYMBOLS) * 3 * len(GENERATIONS) * len(RUNGS)


def test_rung_client_id_reads_plainly() -> None:
    assert rung_client_id("main", "BTCUSDT", "LONG", 1, 0) == (
        f"rl{account_tag('main')}.L1.0.BTCUSDT"
    )
    assert rung_client_id("main", "BTCUSDT", "BOTH", 36, 11).endswith(".B10.b.BTCUSDT")


def test_symbols_a_client_id_cannot_hold_get_a_hashed_tag() -> None:
    assert symbol_tag("BTCUSDT_250627") == "BTCUSDT_250627"
    tag = symbol_tag("我踏马来了USDT")
    assert re.fullmatch(r"h[0-9a-f]{11}", tag)
    assert tag != symbol_tag("币安人生USDT")


@pytest.mark.parametrize(
    "cid",
    [
        "6B2I9XVcJpCjqPAJ4YoFX7",  # Binance's own
        "",
        "rl",
        "rlabcd.L1.0.",
        "rlABCD.L1.0.BTCUSDT",  # tags are lower-case hex
        "rlabcd.X1.0.BTCUSDT",
        "rlabcd.L01.0.BTCUSDT",  # a leading zero would give two ids for one rung
        "rlabcd.L0.0.BTCUSDT",
        "rlabcd.L1.00.BTCUSDT",
        "rlabcd.L1.0.btcusdt",
        "rlabcd.L1.0.BTCUSDT.x",
        "rmabcd.L1.0.BTCUSDT",  # a market reduce, not a rung
        "x-xcKtGhcurlabcd.L1.0.BTCUSDT",
    ],
)
def test_parse_returns_none_for_foreign_ids(cid: str) -> None:
    assert parse_rung_client_id(cid) is None


@pytest.mark.parametrize(
    ("side", "generation", "rung"),
    [("BOTH", 0, 0), ("BOTH", MAX_GENERATION + 1, 0), ("LONG", 1, 36), ("BUY", 1, 0)],
)
def test_rung_client_id_refuses_values_it_cannot_encode(
    side: str, generation: int, rung: int
) -> None:
    with pytest.raises(ValueError):
        rung_client_id(ACCOUNT, "BTCUSDT", side, generation, rung)


# ------------------------------------------------------------------------ planning


def test_one_way_long_ladder_is_the_seeds_five_rungs() -> None:
    ladder = plan(pos("0.050"))
    assert (ladder.side, ladder.position_side, ladder.reduce_only) == ("SELL", "BOTH", True)
    assert [r.trigger_price for r in ladder.rungs] == [
        D("57000.0"),
        D("56700.0"),
        D("56400.0"),
        D("56100.0"),
        D("55800.0"),
    ]
    assert [r.quantity for r in ladder.rungs] == [D("0.010")] * 5
    assert [r.index for r in ladder.rungs] == [0, 1, 2, 3, 4]
    assert [r.client_algo_id for r in ladder.rungs] == [
        rung_client_id(ACCOUNT, "BTCUSDT", "BOTH", 1, i) for i in range(5)
    ]
    assert not any(r.close_position for r in ladder.rungs)


def test_long_triggers_floor_away_from_the_price() -> None:
    ladder = plan(pos("0.050", "60000.3", side="LONG"))
    # 60000.3 × 0.95 = 57000.285: the tick below, never the one nearer the price.
    assert [r.trigger_price for r in ladder.rungs] == [
        D("57000.2"),
        D("56700.2"),
        D("56400.2"),
        D("56100.2"),
        D("55800.2"),
    ]


def test_hedge_short_ladder_ceils_triggers_and_buys_back() -> None:
    ladder = plan(pos("-0.050", "60000.3", side="SHORT"))
    assert (ladder.side, ladder.position_side, ladder.reduce_only) == ("BUY", "SHORT", False)
    # 60000.3 × 1.05 = 63000.315: the tick above.
    assert [r.trigger_price for r in ladder.rungs] == [
        D("63000.4"),
        D("63300.4"),
        D("63600.4"),
        D("63900.4"),
        D("64200.4"),
    ]


def test_doge_triggers_land_on_its_tiny_tick() -> None:
    ladder = plan(pos("1000", "0.16234", symbol="DOGEUSDT"), DOGE)
    assert [r.trigger_price for r in ladder.rungs] == [
        D("0.15422"),
        D("0.15341"),
        D("0.15259"),
        D("0.15178"),
        D("0.15097"),
    ]
    assert [r.quantity for r in ladder.rungs] == [D(200)] * 5


def test_ladder_floors_quantity_to_step_size_and_puts_the_remainder_on_the_last_rung() -> None:
    ladder = plan(pos("0.053"))
    assert [r.quantity for r in ladder.rungs] == [D("0.010")] * 4 + [D("0.013")]
    doge = plan(pos("-1004", "0.2", symbol="DOGEUSDT"), DOGE)
    assert [r.quantity for r in doge.rungs] == [D(200)] * 4 + [D(204)]


def test_ladder_merges_rungs_that_would_fall_below_min_qty() -> None:
    assert [r.quantity for r in plan(pos("0.003")).rungs] == [D("0.001")] * 3
    # COARSE steps by 0.1 but needs 1 per order: 3.5 makes three rungs, not five of 0.7.
    coarse = plan(pos("3.5", "10", symbol="COARSEUSDT"), COARSE)
    assert [r.quantity for r in coarse.rungs] == [D("1.1"), D("1.1"), D("1.3")]
    assert [r.index for r in coarse.rungs] == [0, 1, 2]


def test_position_below_min_qty_gets_one_close_position_rung() -> None:
    ladder = plan(pos("0.5", "10", symbol="COARSEUSDT"), COARSE)
    assert len(ladder.rungs) == 1
    (rung,) = ladder.rungs
    assert (rung.index, rung.close_position, rung.quantity) == (0, True, D(0))
    assert rung.trigger_price == D("9.500")
    assert not rung.is_backstop


def test_position_beyond_what_max_qty_rungs_can_hold_gets_a_close_position_rung() -> None:
    ladder = plan(pos("6000"))  # five rungs of 1200 > maxQty 1000
    assert [(r.close_position, r.quantity) for r in ladder.rungs] == [(True, D(0))]


def test_rungs_always_sum_exactly_to_the_position() -> None:
    cases = 0
    for filters, symbol in ((BTC, "BTCUSDT"), (DOGE, "DOGEUSDT"), (COARSE, "COARSEUSDT")):
        step = filters.step_size
        for steps in (*range(1, 160), 997, 1001, 12_345, 99_999):
            for sign, rungs in itertools.product((1, -1), (1, 3, 5, 20)):
                amount = sign * steps * step
                config = LadderConfig(rungs=rungs, step_pct=D("0.1"))
                ladder = plan(pos(str(amount), "100", symbol=symbol), filters, config)
                quantities = [r.quantity for r in ladder.rungs if not r.close_position]
                if abs(amount) < filters.min_qty:
                    assert [r.close_position for r in ladder.rungs] == [True]
                    continue
                assert sum(quantities) == abs(amount)
                assert len(quantities) <= rungs
                assert all(q >= filters.min_qty and q % step == 0 for q in quantities)
                assert len(set(quantities[:-1])) <= 1 and quantities[-1] >= quantities[0]
                cases += 1
    assert cases > 3500


def test_backstop_is_a_close_position_rung_one_step_beyond_the_last() -> None:
    ladder = plan(pos("0.050"), config=WITH_BACKSTOP)
    *rungs, backstop = ladder.rungs
    assert len(rungs) == 5
    assert (backstop.index, backstop.close_position, backstop.is_backstop) == (5, True, True)
    assert backstop.trigger_price == D("55500.0")  # 7.5 % below 60000
    assert ladder.total_quantity == D("0.050")


def test_backstop_follows_the_rungs_left_after_merging() -> None:
    ladder = plan(pos("0.002"), config=WITH_BACKSTOP)
    assert [(r.index, r.quantity, r.close_position) for r in ladder.rungs] == [
        (0, D("0.001"), False),
        (1, D("0.001"), False),
        (2, D(0), True),
    ]
    assert ladder.rungs[2].trigger_price == D("56400.0")


def test_triggers_stay_inside_the_price_filter() -> None:
    ladder = plan(pos("1000", "0.00250", symbol="DOGEUSDT"), DOGE)
    # 0.0025 × 0.95 = 0.002375 is below minPrice 0.00244: every rung sits at minPrice.
    assert {r.trigger_price for r in ladder.rungs} == {D("0.00244")}
    short = plan(pos("-1000", "29.5", symbol="DOGEUSDT"), DOGE)
    assert short.rungs[0].trigger_price == D("30")


def test_flat_position_plans_no_ladder() -> None:
    assert plan_ladder(pos("0"), BTC, DEFAULT, account=ACCOUNT, generation=1) is None


def test_entry_price_must_be_positive() -> None:
    with pytest.raises(ValueError, match="entry price 0 must be > 0"):
        plan_ladder(pos("0.01", "0"), BTC, DEFAULT, account=ACCOUNT, generation=1)


# ------------------------------------------------------------------------ order params


def test_order_params_one_way_are_the_exact_strings_binance_takes() -> None:
    params = plan(pos("0.053")).order_params(BTC)
    assert params[0] == {
        "algoType": "CONDITIONAL",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "positionSide": "BOTH",
        "type": "STOP_MARKET",
        "triggerPrice": "57000.0",
        "quantity": "0.010",
        "reduceOnly": "true",
        "workingType": "MARK_PRICE",
        "priceProtect": "TRUE",
        "clientAlgoId": rung_client_id(ACCOUNT, "BTCUSDT", "BOTH", 1, 0),
    }
    assert [p["quantity"] for p in params] == ["0.010"] * 4 + ["0.013"]
    assert [p["triggerPrice"] for p in params] == [
        "57000.0",
        "56700.0",
        "56400.0",
        "56100.0",
        "55800.0",
    ]


def test_order_params_in_hedge_mode_send_no_reduce_only() -> None:
    config = LadderConfig(price_protect=False, working_type="CONTRACT_PRICE")
    params = plan(pos("-1000", "0.16234", symbol="DOGEUSDT", side="SHORT"), DOGE, config)
    first = params.order_params(DOGE)[0]
    assert "reduceOnly" not in first
    assert (first["side"], first["positionSide"], first["triggerPrice"]) == (
        "BUY",
        "SHORT",
        "0.17046",
    )
    assert (first["quantity"], first["workingType"], first["priceProtect"]) == (
        "200",
        "CONTRACT_PRICE",
        "FALSE",
    )


def test_close_position_rung_sends_neither_quantity_nor_reduce_only() -> None:
    params = plan(pos("0.050"), config=WITH_BACKSTOP).order_params(BTC)[-1]
    assert params == {
        "algoType": "CONDITIONAL",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "positionSide": "BOTH",
        "type": "STOP_MARKET",
        "triggerPrice": "55500.0",
        "closePosition": "true",
        "workingType": "MARK_PRICE",
        "priceProtect": "TRUE",
        "clientAlgoId": rung_client_id(ACCOUNT, "BTCUSDT", "BOTH", 1, 5),
    }


def test_rungs_pass_the_filter_check_below_min_notional_because_reduce_only() -> None:
    ladder = plan(pos("0.003"))  # 0.001 × 57000 = 57 USDT, under BTC's 100 minNotional
    for rung in ladder.rungs:
        check_order(
            BTC,
            side=ladder.side,
            quantity=rung.quantity,
            price=None,
            mark_price=D(60000),
            reduce_only=True,
            market=True,
            trigger_price=rung.trigger_price,
        )


# ------------------------------------------------------------------------ re-laddering


def test_ladder_fits_the_position_it_was_planned_for() -> None:
    for position in (pos("0.050"), pos("-0.050", side="SHORT"), pos("0.002")):
        assert reladder_reason(plan(position), position, BTC, DEFAULT) is None


def test_size_wiggling_by_one_step_does_not_reladder() -> None:
    ladder = plan(pos("0.050"))
    for amount in ("0.049", "0.051", "0.0525", "0.0475"):
        assert reladder_reason(ladder, pos(amount), BTC, DEFAULT) is None


def test_size_change_at_the_threshold_does_not_reladder_and_beyond_it_does() -> None:
    ladder = plan(pos("1000", "0.2", symbol="DOGEUSDT"), DOGE)
    assert reladder_reason(ladder, pos("1050", "0.2", symbol="DOGEUSDT"), DOGE, DEFAULT) is None
    assert reladder_reason(ladder, pos("950", "0.2", symbol="DOGEUSDT"), DOGE, DEFAULT) is None
    reason = reladder_reason(ladder, pos("1051", "0.2", symbol="DOGEUSDT"), DOGE, DEFAULT)
    assert reason is not None and reason.startswith("size changed by 5.10 % (> 5 %)")


def test_entry_moving_the_first_trigger_by_at_most_a_tick_does_not_reladder() -> None:
    ladder = plan(pos("0.050", "60000"))
    # 57000.095 and 57000.19 floor to 57000.0 and 57000.1: zero and one tick.
    for entry in ("60000.1", "60000.2", "59999.95"):
        assert reladder_reason(ladder, pos("0.050", entry), BTC, DEFAULT) is None
    reason = reladder_reason(ladder, pos("0.050", "60000.4"), BTC, DEFAULT)
    assert reason == "first trigger moved by 3 ticks (57000.0 → 57000.3, entry 60000.4)"


@pytest.mark.parametrize(("filters", "symbol"), [(BTC, "BTCUSDT"), (DOGE, "DOGEUSDT")])
@pytest.mark.parametrize("sign", [1, -1])
def test_entry_moves_never_read_as_config_changes(
    filters: SymbolFilters, symbol: str, sign: int
) -> None:
    config = LadderConfig(backstop=True, step_pct=D("0.7"))
    tick = filters.tick_size
    base = D("60000") if filters is BTC else D("0.16234")
    for start in range(0, 40, 3):
        entry = base + start * tick / 7
        ladder = plan(pos(str(sign * 5), str(entry), symbol=symbol), filters, config)
        for shift in range(-40, 41):
            moved = entry + shift * tick / 3
            reason = reladder_reason(
                ladder, pos(str(sign * 5), str(moved), symbol=symbol), filters, config
            )
            assert reason is None or reason.startswith("first trigger moved"), reason


def test_position_side_flip_reladders() -> None:
    ladder = plan(pos("0.050"))
    reason = reladder_reason(ladder, pos("-0.050"), BTC, DEFAULT)
    assert reason == "position side changed: a short under SELL stops"


def test_close_position_ladder_never_reladders_for_size() -> None:
    ladder = plan(pos("0.5", "10", symbol="COARSEUSDT"), COARSE)
    for amount in ("0.9", "5", "500"):
        position = pos(amount, "10", symbol="COARSEUSDT")
        assert reladder_reason(ladder, position, COARSE, DEFAULT) is None


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (LadderConfig(step_pct=D(1)), "config changed: rung 1 trigger 56700.0 is off"),
        (LadderConfig(rungs=3), "config changed: rung 3 is beyond the 3 rungs configured"),
        (
            LadderConfig(working_type="CONTRACT_PRICE"),
            "config changed: workingType MARK_PRICE → CONTRACT_PRICE",
        ),
        (LadderConfig(price_protect=False), "config changed: priceProtect True → False"),
    ],
)
def test_config_changes_reladder(config: LadderConfig, expected: str) -> None:
    reason = reladder_reason(plan(pos("0.050")), pos("0.050"), BTC, config)
    assert reason is not None and reason.startswith(expected)


def test_dropping_the_backstop_from_config_reladders() -> None:
    ladder = plan(pos("0.050"), config=WITH_BACKSTOP)
    reason = reladder_reason(ladder, pos("0.050"), BTC, DEFAULT)
    assert reason == "config changed: backstop no longer configured"


def test_first_offset_change_reladders() -> None:
    assert reladder_reason(
        plan(pos("0.050")), pos("0.050"), BTC, LadderConfig(first_offset_pct=D(4))
    )


def test_fewer_rungs_than_configured_do_not_reladder() -> None:
    ladder = plan(pos("0.050"))
    assert reladder_reason(ladder, pos("0.050"), BTC, LadderConfig(rungs=8)) is None
    assert reladder_reason(ladder, pos("0.050"), BTC, WITH_BACKSTOP) is None


def test_triggered_nearest_rungs_do_not_reladder() -> None:
    ladder = plan(pos("0.050"))
    # Rungs 0 and 1 triggered and their fills shrank the position by exactly their size.
    left = replace(ladder, rungs=ladder.rungs[2:])
    assert reladder_reason(left, pos("0.030"), BTC, DEFAULT) is None


# ------------------------------------------------------------------------ recovery


def test_recovery_groups_rungs_by_position_and_generation() -> None:
    long_1 = plan(pos("0.050", side="LONG"), generation=1)
    long_2 = plan(pos("0.070", side="LONG"), generation=2)
    short_4 = plan(pos("-0.020", side="SHORT"), generation=4)
    doge = plan(pos("1000", "0.2", symbol="DOGEUSDT"), DOGE)
    orders = [
        *as_open(long_2, BTC)[::-1],
        *as_open(short_4, BTC),
        *as_open(long_1, BTC),
        *as_open(doge, DOGE),
    ]
    states = ladder_from_open_orders(ACCOUNT, orders)
    assert set(states) == {
        PositionKey("BTCUSDT", "LONG"),
        PositionKey("BTCUSDT", "SHORT"),
        PositionKey("DOGEUSDT", "BOTH"),
    }
    state = states[PositionKey("BTCUSDT", "LONG")]
    assert list(state.generations) == [1, 2]
    assert state.current == 2
    assert {o.client_algo_id for o in state.orphans} == {r.client_algo_id for r in long_1.rungs}
    assert state.ladder(2) == long_2
    assert state.ladder(1) == long_1
    assert states[PositionKey("BTCUSDT", "SHORT")].ladder(4) == short_4
    assert states[PositionKey("DOGEUSDT", "BOTH")].ladder(1) == doge


def test_recovery_ignores_foreign_ids_and_other_accounts_rungs() -> None:
    mine = plan(pos("0.050"))
    theirs = plan_ladder(pos("0.050"), BTC, DEFAULT, account="other", generation=1)
    assert theirs is not None
    foreign = replace(as_open(mine, BTC)[0], client_algo_id="6B2I9XVcJpCjqPAJ4YoFX7")
    wrong_symbol = replace(as_open(mine, BTC)[1], symbol="ETHUSDT")
    take_profit = replace(as_open(mine, BTC)[2], order_type="TAKE_PROFIT_MARKET")
    orders = [*as_open(theirs, BTC), foreign, wrong_symbol, take_profit]
    assert ladder_from_open_orders(ACCOUNT, orders) == {}


def test_recovery_of_a_close_position_rung_keeps_it_a_close_position_rung() -> None:
    ladder = plan(pos("0.5", "10", symbol="COARSEUSDT"), COARSE, WITH_BACKSTOP)
    state = state_of(as_open(ladder, COARSE), PositionKey("COARSEUSDT", "BOTH"))
    assert state is not None and state.ladder(1) == ladder


# ------------------------------------------------------------------------ plan_actions


def decide(
    position: PositionRecord | None, orders, filters=BTC, config=DEFAULT, seen_open=frozenset()
) -> LadderActions:
    key = PositionKey("BTCUSDT", "BOTH") if position is None else position.key
    return plan_actions(
        position, state_of(orders, key), filters, config, account=ACCOUNT, seen_open=seen_open
    )


def test_new_position_places_generation_1() -> None:
    actions = decide(pos("0.050"), [])
    assert actions.place == plan(pos("0.050"))
    assert actions.cancel == ()
    assert actions.reason == "no ladder: placing generation 1"


def test_nothing_to_do_without_position_or_rungs() -> None:
    assert decide(None, []) == LadderActions()


def test_fitting_ladder_needs_nothing() -> None:
    orders = as_open(plan(pos("0.050")), BTC)
    assert decide(pos("0.051"), orders) == LadderActions()


def test_closed_position_cancels_every_rung_of_every_generation() -> None:
    orders = as_open(plan(pos("0.050"), generation=3), BTC) + as_open(
        plan(pos("0.090"), generation=4), BTC
    )
    for position in (None, pos("0")):
        actions = decide(position, orders)
        assert actions.cancel == tuple(orders)
        assert actions.place is None


def test_reladder_places_the_next_generation_and_cancels_nothing() -> None:
    orders = as_open(plan(pos("0.050"), generation=7), BTC)  # a restart sees generation 7
    actions = decide(pos("0.060"), orders)
    assert actions.place == plan(pos("0.060"), generation=8)
    assert actions.cancel == ()
    assert actions.reason.startswith("size changed by 20.00 % (> 5 %)")
    assert actions.reason.endswith("placing generation 8")


def test_confirmed_new_generation_cancels_the_older_ones() -> None:
    old = as_open(plan(pos("0.050"), generation=1), BTC)
    new = as_open(plan(pos("0.060"), generation=2), BTC)
    actions = decide(pos("0.060"), old + new)
    assert actions.place is None
    assert actions.cancel == tuple(old)


@pytest.mark.parametrize("threshold", [D(5), D(30)])  # 30: the size alone would still fit
def test_missing_middle_rung_the_job_saw_open_reladders_with_an_alert(threshold: Decimal) -> None:
    config = LadderConfig(resize_threshold_pct=threshold)
    orders = as_open(plan(pos("0.050"), config=config), BTC)
    seen = seen_open_rungs(frozenset(), orders)
    del orders[2]
    actions = decide(pos("0.050"), orders, config=config, seen_open=seen)
    assert actions.place == plan(pos("0.050"), config=config, generation=2)
    assert actions.cancel == ()
    (alert,) = actions.alerts
    assert "rungs [2] of generation 1" in alert and "cancelled outside riskd" in alert


def test_lone_generation_never_seen_whole_is_completed_under_its_own_ids() -> None:
    """As a restarted StopLadder finds a first ladder whose placement a crash cut short."""
    ladder = plan(pos("0.050"))
    placed = as_open(ladder, BTC)[2:3]
    actions = decide(pos("0.050"), placed)
    assert actions.place == replace(
        ladder, rungs=tuple(r for i, r in enumerate(ladder.rungs) if i != 2)
    )
    assert (actions.cancel, actions.alerts) == ((), ())
    assert actions.reason == "completing generation 1: rungs [0, 1, 3, 4] are not open"


def test_seen_open_rungs_are_kept_while_their_generation_is_open() -> None:
    old = as_open(plan(pos("0.050"), generation=1), BTC)
    new = as_open(plan(pos("0.060"), generation=2), BTC)
    seen = seen_open_rungs(frozenset(), old + new)
    assert seen_open_rungs(seen, old[:1] + new[1:]) == seen
    assert seen_open_rungs(seen, new[1:]) == {o.client_algo_id for o in new}


def test_triggered_rung_is_not_placed_again() -> None:
    orders = as_open(plan(pos("0.050")), BTC)
    # Rung 0 triggered: it left the open orders and its fill reduced the position.
    assert decide(pos("0.040"), orders[1:]) == LadderActions()


def test_pending_generation_is_completed_under_its_own_ids() -> None:
    old = as_open(plan(pos("0.050"), generation=1), BTC)
    pending = plan(pos("0.080"), generation=2)
    refused = pending.rungs[3]
    placed = [o for o in as_open(pending, BTC) if o.client_algo_id != refused.client_algo_id]
    actions = decide(pos("0.080"), old + placed)
    assert actions.place == replace(pending, rungs=(refused,))
    assert actions.cancel == ()
    assert actions.reason == "completing generation 2: rungs [3] are not open"


def test_pending_generation_missing_its_farthest_rung_is_completed_before_confirming() -> None:
    config = LadderConfig(resize_threshold_pct=D(30))  # 0.064 of 0.080 would pass as a fit
    old = as_open(plan(pos("0.050"), config=config, generation=1), BTC)
    pending = plan(pos("0.080"), config=config, generation=2)
    actions = decide(pos("0.080"), old + as_open(pending, BTC)[:4], config=config)
    assert actions.place == replace(pending, rungs=pending.rungs[4:])
    assert actions.cancel == ()


def test_pending_generation_that_no_longer_matches_is_superseded() -> None:
    old = as_open(plan(pos("0.050"), generation=1), BTC)
    pending = as_open(plan(pos("0.080"), generation=2), BTC)
    del pending[2]  # refused, then the position moved on: no alert, the actor reported it
    actions = decide(pos("0.100"), old + pending)
    assert actions.place == plan(pos("0.100"), generation=3)
    assert (actions.cancel, actions.alerts) == ((), ())


def test_lone_close_position_stop_is_kept_rather_than_replaced_by_another() -> None:
    orders = as_open(plan(pos("0.5", "10", symbol="COARSEUSDT"), COARSE), COARSE)
    actions = decide(pos("0.5", "11", symbol="COARSEUSDT"), orders, COARSE)
    assert actions.place is None and actions.cancel == ()
    assert "keeping the open closePosition stop" in actions.reason


def test_close_position_stop_gives_way_to_a_quantity_ladder() -> None:
    orders = as_open(plan(pos("0.5", "10", symbol="COARSEUSDT"), COARSE), COARSE)
    actions = decide(pos("5", "11", symbol="COARSEUSDT"), orders, COARSE)
    assert actions.place == plan(pos("5", "11", symbol="COARSEUSDT"), COARSE, generation=2)


def test_live_ladder_without_its_backstop_gets_one_at_its_own_entry() -> None:
    ladder = plan(pos("0.050"))
    actions = decide(pos("0.050", "60000.1"), as_open(ladder, BTC), config=WITH_BACKSTOP)
    assert actions.place is not None
    (backstop,) = actions.place.rungs
    assert (backstop.index, backstop.close_position) == (5, True)
    assert backstop.trigger_price == D("55500.0")
    assert backstop.client_algo_id == rung_client_id(ACCOUNT, "BTCUSDT", "BOTH", 1, 5)


class FakeExchange:
    """One account's open algo orders; placements are listed from the next read on."""

    def __init__(self, filters: SymbolFilters) -> None:
        self.filters = filters
        self.open: dict[str, OpenAlgoOrder] = {}

    def apply(self, actions: LadderActions, *, refuse: frozenset[str] = frozenset()) -> None:
        for order in actions.cancel:
            del self.open[order.client_algo_id]
        if actions.place is None:
            return
        for order in as_open(actions.place, self.filters):
            assert order.client_algo_id not in self.open, "Binance refuses an open id twice"
            assert not (
                order.close_position
                and any(
                    o.close_position and (o.symbol, o.side) == (order.symbol, order.side)
                    for o in self.open.values()
                )
            ), "−4130: one closePosition stop per side"
            if order.client_algo_id not in refuse:
                self.open[order.client_algo_id] = order


def full_ladders(orders: list[OpenAlgoOrder], position: PositionRecord, config) -> list[int]:
    """Generations open without gaps that fit *position*."""
    state = state_of(orders, position.key)
    if state is None:
        return []
    fitting = []
    for generation in state.generations:
        ladder = state.ladder(generation)
        indices = [r.index for r in ladder.rungs]
        contiguous = indices == list(range(indices[0], indices[-1] + 1))
        if contiguous and reladder_reason(ladder, position, BTC, config) is None:
            fitting.append(generation)
    return fitting


def run_passes(steps, config: LadderConfig) -> list[LadderActions]:
    """Reconcile each step's position against a fake exchange; check every pass's safety."""
    exchange = FakeExchange(BTC)
    history = []
    placed_once = False
    for position, refuse in steps:
        orders = list(exchange.open.values())
        actions = decide(position, orders, config=config)
        if position is not None and position.amount != 0:
            left = [o for o in orders if o not in actions.cancel]
            if actions.cancel:  # confirm, then cancel: a full fitting ladder stays open
                assert full_ladders(left, position, config), actions
            if placed_once:  # and a position never loses every rung
                assert left, actions
        exchange.apply(actions, refuse=refuse)
        placed_once = placed_once or actions.place is not None
        history.append(actions)
    return history


def test_confirm_then_cancel_never_leaves_a_position_without_a_full_ladder() -> None:
    none: frozenset[str] = frozenset()
    grown = pos("0.060", "61000")
    flipped = pos("-0.040", "59000")
    steps = [
        (pos("0.050"), none),
        (pos("0.050"), none),
        (pos("0.051"), none),  # wiggle: nothing
        (grown, none),  # re-ladder: generation 2 without its backstop (−4130)
        (grown, none),  # generation 2 confirmed: cancel generation 1
        (grown, none),  # now the backstop of generation 2
        (grown, none),
        (flipped, none),  # one-way flip: BUY stops, generation 3
        (flipped, none),  # cancel generation 2
        (flipped, none),
        (pos("0"), none),  # closed: no orphans
        (pos("0"), none),
    ]
    history = run_passes(steps, WITH_BACKSTOP)
    summary = [
        (
            a.place.generation if a.place else None,
            len(a.place.rungs) if a.place else 0,
            len(a.cancel),
        )
        for a in history
    ]
    assert summary == [
        (1, 6, 0),
        (None, 0, 0),
        (None, 0, 0),
        (2, 5, 0),
        (None, 0, 6),
        (2, 1, 0),
        (None, 0, 0),
        (3, 6, 0),
        (None, 0, 6),
        (None, 0, 0),
        (None, 0, 6),
        (None, 0, 0),
    ]


def test_a_refused_rung_is_retried_under_its_id_before_the_old_ladder_goes() -> None:
    refused = rung_client_id(ACCOUNT, "BTCUSDT", "LONG", 2, 2)
    first, grown = pos("0.050", side="LONG"), pos("0.080", side="LONG")
    steps = [
        (first, frozenset()),
        (grown, frozenset({refused})),
        (grown, frozenset()),
        (grown, frozenset()),
        (grown, frozenset()),
    ]
    history = run_passes(steps, DEFAULT)
    assert history[1].place is not None and history[1].place.generation == 2
    assert history[2].place is not None
    assert [r.client_algo_id for r in history[2].place.rungs] == [refused]
    assert history[2].cancel == ()
    assert len(history[3].cancel) == 5 and history[3].place is None
    assert history[4] == LadderActions()


# ------------------------------------------------------------------------ account limit


def _planned(count: int, amount: str, config: LadderConfig = DEFAULT) -> dict[PositionKey, Ladder]:
    ladders = {}
    for i in range(count):
        ladder = plan(pos(amount, symbol=f"S{i}USDT"), config=config, generation=2)
        ladders[ladder.key] = ladder
    return ladders


def test_account_limit_that_does_not_bind_changes_nothing() -> None:
    planned = _planned(2, "0.050")
    assert fit_to_account_limit(planned, 190, 200) == (planned, ())


def test_account_limit_counts_the_generations_still_open_and_merges_rungs() -> None:
    planned = _planned(2, "0.050")
    # 39 ladders of 5 are open, two of them being replaced: their old rungs count until confirmed.
    fitted, alerts = fit_to_account_limit(planned, 195, 200)
    assert sum(len(ladder.rungs) for ladder in fitted.values()) == 5
    for key, ladder in fitted.items():
        assert ladder.total_quantity == planned[key].total_quantity
        assert ladder.rungs == tuple(
            replace(r, quantity=ladder.rungs[i].quantity)
            for i, r in enumerate(planned[key].rungs[: len(ladder.rungs)])
        )
    assert [len(ladder.rungs) for ladder in fitted.values()] == [2, 3]
    (alert,) = alerts
    assert alert.startswith("main: the 200 conditional-order cap binds (195 open + 10 planned)")
    assert "5 stop rungs dropped" in alert


def test_account_limit_drops_backstops_before_merging_rungs() -> None:
    planned = _planned(2, "0.050", WITH_BACKSTOP)
    fitted, alerts = fit_to_account_limit(planned, 190, 200)
    for ladder in fitted.values():
        assert [r.close_position for r in ladder.rungs] == [False] * 5
    assert "2 stop rungs dropped" in alerts[0]


def test_account_limit_never_cuts_a_ladder_below_one_rung() -> None:
    planned = _planned(3, "0.050")
    fitted, alerts = fit_to_account_limit(planned, 199, 200)
    assert [(len(ld.rungs), ld.rungs[0].quantity) for ld in fitted.values()] == [
        (1, D("0.050"))
    ] * 3
    assert "12 stop rungs dropped" in alerts[0]
    assert "still 2 over" in alerts[0]


def test_account_limit_drops_a_placement_that_is_only_a_backstop() -> None:
    ladder = plan(pos("0.050"), config=WITH_BACKSTOP)
    backstop_only = replace(ladder, rungs=ladder.rungs[-1:])
    fitted, alerts = fit_to_account_limit({ladder.key: backstop_only}, 200, 200)
    assert fitted == {}
    assert "1 stop rungs dropped" in alerts[0]


# ------------------------------------------------------------------------ one account pass

FILTERS = {"BTCUSDT": BTC, "DOGEUSDT": DOGE}
ACCOUNT_DEFAULT = StopLadderConfig()


def plan_pass(
    positions: list[PositionRecord],
    orders: list[OpenAlgoOrder],
    config: StopLadderConfig = ACCOUNT_DEFAULT,
    *,
    complete: bool = True,
) -> AccountActions:
    return plan_account(
        {p.key: p for p in positions},
        orders,
        FILTERS,
        config,
        account=ACCOUNT,
        complete=complete,
    )


def test_account_pass_ladders_every_new_position_with_its_symbols_config() -> None:
    doge = pos("5000", "0.1", symbol="DOGEUSDT")
    config = StopLadderConfig.model_validate({"symbols": {"DOGEUSDT": {"rungs": 3}}})
    actions = plan_pass([pos("0.050"), doge], [], config)
    assert actions == AccountActions(
        place={
            PositionKey("BTCUSDT", "BOTH"): plan(pos("0.050")),
            doge.key: plan(doge, DOGE, config.for_symbol("DOGEUSDT")),
        },
        cancel=(),
        alerts=(),
        open_ladders=0,
    )
    assert len(actions.place[doge.key].rungs) == 3


def test_account_pass_cancels_a_ladder_without_position_only_when_the_view_is_complete() -> None:
    orphan = as_open(plan(pos("0.050")), BTC)
    complete = plan_pass([], orphan)
    assert (complete.cancel, complete.open_ladders) == (tuple(orphan), 1)
    unsure = plan_pass([], orphan, complete=False)
    assert unsure == AccountActions(place={}, cancel=(), alerts=(), open_ladders=1)


def test_account_pass_alerts_instead_of_laddering_a_symbol_without_filters() -> None:
    actions = plan_pass([pos("1", "10", symbol="XRPUSDT"), pos("0.050")], [])
    assert list(actions.place) == [PositionKey("BTCUSDT", "BOTH")]
    assert actions.alerts == ("XRPUSDT: not in exchangeInfo; no ladder",)


def test_account_pass_fits_its_placements_beside_every_open_algo_order() -> None:
    theirs = as_open(plan(pos("0.050")), BTC)
    foreign = [replace(order, client_algo_id=f"x{order.algo_id}") for order in theirs]
    config = StopLadderConfig(max_algo_orders_per_account=7)
    actions = plan_pass([pos("0.050")], foreign, config)
    (ladder,) = actions.place.values()
    assert len(ladder.rungs) == 2  # 5 open, not riskd's, count against the cap
    (alert,) = actions.alerts
    assert alert.startswith("main: the 7 conditional-order cap binds (5 open + 5 planned)")


# ------------------------------------------------------------------------ −2021


def test_would_trigger_reduces_the_rungs_quantity_at_market() -> None:
    ladder = plan(pos("0.053"))
    rung = ladder.rungs[4]
    reduce = on_would_trigger(ladder, rung, pos("0.053"))
    assert reduce is not None
    assert (reduce.symbol, reduce.side, reduce.position_side) == ("BTCUSDT", "SELL", "BOTH")
    assert (reduce.quantity, reduce.reduce_only) == (D("0.013"), True)
    assert reduce.client_order_id == "rm" + rung.client_algo_id[2:]
    assert BINANCE_ID.fullmatch(reduce.client_order_id)
    assert "−2021" in reduce.alert and "rung 4 of generation 1" in reduce.alert
    assert reduce.order_params(BTC) == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "positionSide": "BOTH",
        "type": "MARKET",
        "quantity": "0.013",
        "reduceOnly": "true",
        "newClientOrderId": reduce.client_order_id,
    }
    assert on_would_trigger(ladder, rung, pos("0.053")) == reduce


def test_would_trigger_on_a_close_position_rung_reduces_the_whole_position() -> None:
    position = pos("-0.5", "10", symbol="COARSEUSDT", side="SHORT")
    ladder = plan(position, COARSE)
    reduce = on_would_trigger(ladder, ladder.rungs[0], position)
    assert reduce is not None
    assert (reduce.side, reduce.quantity, reduce.reduce_only) == ("BUY", D("0.5"), False)
    params = reduce.order_params(COARSE)
    assert "reduceOnly" not in params
    assert (params["positionSide"], params["quantity"]) == ("SHORT", "0.5")


def test_would_trigger_never_reduces_more_than_the_position() -> None:
    ladder = plan(pos("0.050"))
    reduce = on_would_trigger(ladder, ladder.rungs[0], pos("0.004"))
    assert reduce is not None and reduce.quantity == D("0.004")


def test_would_trigger_does_nothing_for_a_flat_or_flipped_position() -> None:
    ladder = plan(pos("0.050"))
    assert on_would_trigger(ladder, ladder.rungs[0], pos("0")) is None
    assert on_would_trigger(ladder, ladder.rungs[0], pos("-0.050")) is None


# ------------------------------------------------------------------------ the full read


@pytest.mark.parametrize(
    ("age_ms", "spare", "due"),
    [
        (None, False, True),  # never read: the first pass reads whatever the budget
        (4_999, True, False),  # within the interval: the view as last learnt
        (5_000, True, True),  # an interval old, and the budget has room
        (5_000, False, False),  # the cancels need the weight: it waits …
        (29_999, False, False),
        (30_000, False, True),  # … but not past the max age
    ],
)
def test_open_algo_orders_are_read_in_full_once_per_interval_while_the_budget_has_room(
    age_ms: int | None, spare: bool, due: bool
) -> None:
    assert snapshot_due(age_ms, 5_000, 30_000, spare) is due


def test_a_max_age_below_the_interval_does_not_read_more_often_than_the_interval() -> None:
    assert not snapshot_due(4_000, 5_000, 1_000, spare=False)
    assert snapshot_due(5_000, 5_000, 1_000, spare=False)
