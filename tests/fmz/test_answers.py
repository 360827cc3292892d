import json
import re
from decimal import Decimal

import pytest

from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_orders import OrderRecord, parse_order
from riskd.fmz import answers
from riskd.fmz.answers import order_status
from riskd.fmz.symbols import FmzSymbol
from riskd.market.records import BookTicker, Ticker24h
from riskd.positions import BalanceRecord, PositionKey, PositionRecord
from tests.kit import fmz
from tests.kit.fixtures import load_binance
from tests.kit.market import kline_row

ETH = FmzSymbol("ETH", "USDT")


def _same_json(data: object, expected: object) -> None:
    """Equal as the docker reads them: the same JSON text, so ints, floats and strings match."""
    assert json.dumps(data, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _order(**change: object) -> OrderRecord:
    fields: dict = {
        "order_id": 123456,
        "client_order_id": "rb-bot-1-x",
        "symbol": "ETHUSDT",
        "side": "BUY",
        "status": "NEW",
        "price": Decimal("1005"),
        "avg_price": Decimal("1000"),
        "orig_qty": Decimal("0.25"),
        "executed_qty": Decimal("0"),
        "reduce_only": False,
    }
    return OrderRecord(**{**fields, **change})


# --- the envelope -----------------------------------------------------------------------------


def test_answers_are_data_with_optional_raw_or_an_error() -> None:
    assert answers.answer([1]) == {"data": [1]}
    assert answers.answer(True, {"code": 200}) == {"data": True, "raw": {"code": 200}}
    assert answers.error("params.amount: must be a positive number, not 'abc'") == {
        "error": "params.amount: must be a positive number, not 'abc'"
    }


def test_cancel_and_marginlevel_answer_true_as_the_article() -> None:
    assert answers.DONE is fmz.CANCEL


def test_a_raw_call_answers_binances_body_as_data() -> None:
    body = {"code": "0", "data": [], "msg": ""}
    assert answers.answer(body) == {"data": {"code": "0", "data": [], "msg": ""}}


# --- market data ------------------------------------------------------------------------------


def test_ticker_is_the_articles_shape_all_strings() -> None:
    book = BookTicker(
        "ETHUSDT",
        Decimal("2922.18"),
        Decimal("3"),
        Decimal("2922.19"),
        Decimal("4"),
        update_ms=1731028903911,
    )
    stats = Ticker24h(
        "ETHUSDT",
        last=Decimal("2922.18"),
        open=Decimal("2787.72"),
        high=Decimal("2955.00"),
        low=Decimal("2775.15"),
        volume=Decimal("249400.888156"),
        quote_volume=Decimal("1"),
        update_ms=1731028903000,
    )
    _same_json(answers.ticker(ETH, book, stats), fmz.TICKER)
    swap = answers.ticker(FmzSymbol("ETH", "USDT", swap=True), book, stats)
    assert swap["symbol"] == "ETH_USDT.swap"


def test_depth_is_the_articles_shape_from_binances_depth() -> None:
    body = {
        "lastUpdateId": 1,
        "E": 1500793319500,
        "T": 1500793319499,
        "asks": [["1000.00", "0.500"], ["1001", "0.23"], ["1004", "2.1"], ["1005", "9"]],
        "bids": [["999", "0.25"], ["998", "0.8"], ["995", "1.4"], ["990", "9"]],
    }
    _same_json(answers.depth(body, limit=3), fmz.DEPTH)
    assert len(answers.depth(body)["asks"]) == 4


def test_depth_reads_a_recorded_binance_answer() -> None:
    depth = answers.depth(load_binance("real/fapi_v1_depth_limit5.ccxt_real_2024-02-01.json"), 2)
    assert depth == {
        "time": 1706803917258,
        "asks": [[42878.0, 7.011], [42950.9, 0.005]],
        "bids": [[42651.1, 470.672], [42650, 66.452]],
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"asks": [], "bids": []}, "GET /fapi/v1/depth: T: is missing"),
        ({"T": 1, "asks": "x", "bids": []}, "GET /fapi/v1/depth: asks: a string is not a list"),
        (
            {"T": 1, "asks": [["1"]], "bids": []},
            "GET /fapi/v1/depth: asks[0]: a list is not a [price, amount] pair",
        ),
        (
            {"T": 1, "asks": [], "bids": [["1", 2.5]]},
            "GET /fapi/v1/depth: bids[0].amount: is a float; decode with parse_float=Decimal",
        ),
    ],
)
def test_depth_refuses_a_body_it_cannot_read(body: dict, error: str) -> None:
    with pytest.raises(PayloadError, match=f"^{re.escape(error)}$"):
        answers.depth(body)


def test_trades_are_the_articles_shape_newest_first() -> None:
    body = [  # Binance lists the oldest first
        {
            "id": 12545664,
            "price": "1001",
            "qty": "1",
            "quoteQty": "1001",
            "time": 1529919412900,
            "isBuyerMaker": True,
        },
        {
            "id": 12232153,
            "price": "1000.0",
            "qty": "0.5",
            "quoteQty": "500",
            "time": 1529919412968,
            "isBuyerMaker": False,
        },
    ]
    _same_json(answers.trades(body), fmz.TRADES)
    assert answers.trades(body, limit=1) == fmz.TRADES[:1]


def test_trades_refuse_a_bad_row() -> None:
    with pytest.raises(PayloadError, match=r"^GET /fapi/v1/trades: \[0\]\.isBuyerMaker: "):
        answers.trades([{"id": 1, "price": "1", "qty": "1", "time": 1, "isBuyerMaker": "no"}])


def test_records_are_the_articles_shape_newest_first_in_seconds() -> None:
    rows = [
        (
            1500793259000,
            "1.01",
            "2.02",
            "3.03",
            "4.04",
            "5.05",
            1500793318999,
            "0",
            1,
            "0",
            "0",
            "0",
        ),
        (1500793319000, "1.1", "2.2", "3.3", "4.4", "5.5", 1500793378999, "0", 1, "0", "0", "0"),
    ]
    _same_json(answers.records(rows), fmz.RECORDS)
    _same_json(answers.records(reversed(rows)), fmz.RECORDS)


def test_records_read_binances_kline_rows() -> None:
    rows = load_binance("real/fapi_v1_klines_1m_limit3.ccxt_real_2024-04-10.json")
    records = answers.records(rows)
    assert [record[0] for record in records] == [1712738580, 1712738520, 1712738460]
    assert records[2] == [1712738460, 71481.9, 71481.9, 71481.9, 71481.9, 0.002]
    assert answers.records([kline_row(1712738580000)])[0][4] == 70459.4


# --- the account ------------------------------------------------------------------------------


def test_accounts_and_assets_are_the_articles_shape_free_and_frozen_margin() -> None:
    records = [
        BalanceRecord(
            "TUSD", Decimal("3000.00000000"), 1, Decimal(0), Decimal("3000"), Decimal("3000.000")
        ),
        BalanceRecord(
            "BTC",
            Decimal("0.2482982056277609"),
            1,
            Decimal(0),
            Decimal("0.2482982056277609"),
            Decimal("0.2482982056277609"),
        ),
    ]
    _same_json(answers.balances(records), fmz.ACCOUNTS)
    used = BalanceRecord(
        "USDT", Decimal("1000"), 1, Decimal("-50"), Decimal("950"), Decimal("700.5")
    )
    assert answers.balances([used]) == [{"currency": "USDT", "free": "700.5", "frozen": "249.5"}]
    over = BalanceRecord("USDT", Decimal("10"), 1, Decimal(0), Decimal("10"), Decimal("12"))
    assert answers.balances([over])[0]["frozen"] == "0"


def test_balances_need_the_accounts_available_and_margin_balance() -> None:
    streamed = BalanceRecord("USDT", Decimal("1000"), 1)
    with pytest.raises(ValueError, match=r"^balance of USDT: needs the available and margin"):
        answers.balances([streamed])


# --- orders -----------------------------------------------------------------------------------


def test_orders_are_the_articles_shape_with_riskds_ids() -> None:
    _same_json(
        answers.orders([_order()]),
        [{**fmz.ORDERS[0], "id": "ETH_USDT,123456", "avg_price": 1000}],  # a number, as GetOrder
    )
    order = answers.order(
        _order(orig_qty=Decimal("0.15"), price=Decimal("1002"), avg_price=Decimal("0.00000"))
    )
    _same_json(order, {**fmz.ORDER, "id": "ETH_USDT,123456"})
    history = answers.orders([_order(status="FILLED")])
    _same_json(history, [{**fmz.HISTORY_ORDERS[0], "id": "ETH_USDT,123456"}])


def test_the_article_shows_the_same_keys_in_every_order_answer() -> None:
    keys = set(answers.order(_order()))
    assert keys == set(fmz.ORDER) == set(fmz.ORDERS[0]) == set(fmz.HISTORY_ORDERS[0])


def test_trade_answers_the_new_orders_id_in_the_articles_shape() -> None:
    created = answers.created(FmzSymbol("BTC", "USDT", swap=True), 123456)
    assert created == {"id": "BTC_USDT,123456"}
    assert set(created) == set(fmz.CREATED)


@pytest.mark.parametrize(
    ("status", "executed", "fmz_status"),
    [
        ("NEW", "0", "pending"),
        ("PARTIALLY_FILLED", "0.1", "partial-filled"),
        ("FILLED", "1", "filled"),
        ("CANCELED", "0", "canceled"),
        ("CANCELED", "0.1", "partial-canceled"),
        ("EXPIRED", "0", "canceled"),
        ("EXPIRED", "0.1", "partial-canceled"),
        ("EXPIRED_IN_MATCH", "0", "canceled"),
        ("REJECTED", "0", "canceled"),
    ],
)
def test_binance_statuses_map_to_the_articles(status: str, executed: str, fmz_status: str) -> None:
    assert order_status(status, Decimal(executed)) == fmz_status
    assert fmz_status in fmz.FMZ_ORDER_STATUSES


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"^/fapi/v1/order: status: 'NEW_ADL' is not a status"):
        order_status("NEW_ADL", Decimal(0))


def test_an_order_answers_in_fmzs_shape() -> None:
    order = parse_order(load_binance("docs/fapi_v1_order_GET.sdk_docs.json"))
    assert answers.order(order) == {
        "id": "BTC_USDT,1573346959",
        "symbol": "BTC_USDT",
        "amount": 0.4,
        "price": 0,
        "deal_amount": 0,
        "avg_price": 0,
        "type": "buy",
        "status": "pending",
    }


# --- positions --------------------------------------------------------------------------------


def _position(side: str = "BOTH", amount: str = "0.5", **more: object) -> PositionRecord:
    fields: dict = {
        "symbol": "BTCUSDT",
        "position_side": side,
        "amount": Decimal(amount),
        "entry_price": Decimal("60000"),
        "update_time_ms": 1,
        "mark_price": Decimal("62000"),
        "unrealized_pnl": Decimal("1000.00"),
    }
    return PositionRecord(**{**fields, **more})


def test_a_position_has_fmzs_position_fields_in_the_articles_spelling() -> None:
    assert answers.position(_position(), margin_level=10) == {
        "symbol": "BTC_USDT.swap",
        "margin_level": 10,
        "amount": 0.5,
        "frozen_amount": 0,
        "price": 60000,
        "profit": 1000,
        "type": "long",
        "contract_type": "swap",
        "margin": 3100,
    }


@pytest.mark.parametrize(
    ("side", "amount", "kind"),
    [
        ("BOTH", "0.5", "long"),
        ("BOTH", "-0.5", "short"),
        ("LONG", "0.5", "long"),
        ("SHORT", "-0.5", "short"),
        ("SHORT", "0.5", "short"),
    ],
)
def test_position_types_follow_the_side_or_the_sign(side: str, amount: str, kind: str) -> None:
    position = answers.position(_position(side, amount), margin_level=5)
    assert (position["type"], position["amount"]) == (kind, 0.5)


def test_margin_is_binances_when_given_else_from_mark_or_entry() -> None:
    assert answers.position(_position(), margin_level=4, margin=Decimal("7.5"))["margin"] == 7.5
    no_mark = _position(mark_price=None, unrealized_pnl=None)
    position = answers.position(no_mark, margin_level=20)
    assert (position["margin"], position["profit"]) == (1500, 0)


def test_positions_skip_flat_ones_and_take_levels_and_frozen_amounts() -> None:
    records = [
        _position("LONG", "0.5"),
        _position("SHORT", "0"),
        _position("BOTH", "-2", symbol="ETHUSDC", entry_price=Decimal("3000.5")),
    ]
    listed = answers.positions(
        records,
        {"BTCUSDT": 10, "ETHUSDC": 3},
        {PositionKey("ETHUSDC", "BOTH"): Decimal("1.5")},
    )
    assert [(p["symbol"], p["margin_level"], p["frozen_amount"], p["price"]) for p in listed] == [
        ("BTC_USDT.swap", 10, 0, 60000),
        ("ETH_USDC.swap", 3, 1.5, 3000.5),
    ]
    with pytest.raises(ValueError, match=r"^position BTCUSDT SHORT: flat"):
        answers.position(records[1], margin_level=1)


def test_every_answer_is_plain_json() -> None:
    json.dumps(answers.position(_position(), margin_level=3))
    json.dumps(answers.orders([_order()]))
