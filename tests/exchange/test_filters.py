"""Symbol filters: parsing exchangeInfo, rounding to tick and step, and order checks."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from riskd.exchange.filters import (
    ExchangeInfoError,
    FilterViolation,
    SymbolFilters,
    check_order,
    parse_exchange_info,
)
from tests.kit.fixtures import load_binance
from tests.kit.samples import BTC

REAL = "real/fapi_v1_exchangeInfo_excerpt.nautilus_recorded_2022-02-19.json"
DOCS = "docs/fapi_v1_exchangeInfo_excerpt.docs.json"

DOGE = dataclasses.replace(
    BTC,
    symbol="DOGEUSDT",
    tick_size=Decimal("0.000010"),
    min_price=Decimal("0.002440"),
    max_price=Decimal("30"),
    step_size=Decimal("1"),
    min_qty=Decimal("1"),
    max_qty=Decimal("5E+7"),
    market_step_size=Decimal("1"),
    market_min_qty=Decimal("1"),
    market_max_qty=Decimal("3E+7"),
    min_notional=Decimal("5"),
    price_precision=6,
    quantity_precision=0,
)

MARK = Decimal("60000")


def _real_symbol() -> dict[str, Any]:
    """The recorded BTCUSDT entry, a fresh copy to break."""
    return load_binance(REAL)["symbols"][0]


def _without_filter(entry: dict[str, Any], filter_type: str) -> dict[str, Any]:
    entry["filters"] = [f for f in entry["filters"] if f["filterType"] != filter_type]
    return entry


def _filter(entry: dict[str, Any], filter_type: str) -> dict[str, Any]:
    return next(f for f in entry["filters"] if f["filterType"] == filter_type)


def _check(filters: SymbolFilters = BTC, **order: Any) -> None:
    """check_order with a valid limit buy of 0.002 BTCUSDT at 60000, overridden by *order*."""
    fields: dict[str, Any] = {
        "side": "BUY",
        "quantity": Decimal("0.002"),
        "price": Decimal("60000"),
        "mark_price": MARK,
        "reduce_only": False,
        "market": False,
    }
    check_order(filters, **(fields | order))


def _violation(filters: SymbolFilters = BTC, **order: Any) -> FilterViolation:
    with pytest.raises(FilterViolation) as info:
        _check(filters, **order)
    return info.value


# ------------------------------------------------------------------ parsing


def test_parse_real_recorded_exchange_info() -> None:
    filters = parse_exchange_info(load_binance(REAL))

    assert filters == {
        "BTCUSDT": SymbolFilters(
            symbol="BTCUSDT",
            status="TRADING",
            tick_size=Decimal("0.10"),
            min_price=Decimal("402"),
            max_price=Decimal("1246396.60"),
            step_size=Decimal("0.001"),
            min_qty=Decimal("0.001"),
            max_qty=Decimal("1000"),
            market_step_size=Decimal("0.001"),
            market_min_qty=Decimal("0.001"),
            market_max_qty=Decimal("1000"),
            min_notional=Decimal("10"),
            multiplier_up=Decimal("1.1000"),
            multiplier_down=Decimal("0.5454"),
            price_precision=2,
            quantity_precision=3,
        )
    }


def test_parse_docs_example_despite_its_order_type_key_bug() -> None:
    blz = parse_exchange_info(load_binance(DOCS))["BLZUSDT"]

    assert (blz.tick_size, blz.min_price, blz.max_price) == (
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal("300"),
    )
    assert (blz.step_size, blz.max_qty, blz.market_max_qty) == (
        Decimal("1"),
        Decimal("10000000"),
        Decimal("590119"),
    )
    assert (blz.min_notional, blz.multiplier_up, blz.multiplier_down) == (
        Decimal("5.0"),
        Decimal("1.15"),
        Decimal("0.85"),
    )
    assert (blz.price_precision, blz.quantity_precision) == (5, 0)


def test_parse_reads_json_numbers_like_strings() -> None:
    as_strings = load_binance(REAL)
    as_numbers = json.loads(
        json.dumps(as_strings)
        .replace('"0.10"', "0.1")
        .replace('"0.001"', "0.001")
        .replace('"1000"', "1000")
        .replace('"1.1000"', "1.1")
    )
    assert _filter(as_numbers["symbols"][0], "PRICE_FILTER")["tickSize"] == 0.1

    assert parse_exchange_info(as_numbers) == parse_exchange_info(as_strings)


def test_parse_reads_numbers_decoded_as_decimal() -> None:
    body = load_binance(REAL, parse_float=Decimal)
    _filter(body["symbols"][0], "PERCENT_PRICE")["multiplierDown"] = Decimal("0.5454")

    assert parse_exchange_info(body)["BTCUSDT"].multiplier_down == Decimal("0.5454")


def test_parse_reads_precisions_sent_as_strings() -> None:
    entry = _real_symbol()
    entry["pricePrecision"] = "2"

    assert parse_exchange_info({"symbols": [entry]})["BTCUSDT"].price_precision == 2


def test_parse_simulator_exchange_info_for_its_default_symbols() -> None:
    from riskd.sim.market import DEFAULT_SYMBOLS

    body = {"symbols": [spec.exchange_info(200, 10) for spec in DEFAULT_SYMBOLS]}

    parsed = parse_exchange_info(body)

    for spec in DEFAULT_SYMBOLS:
        filters = parsed[spec.symbol]
        assert (filters.tick_size, filters.step_size, filters.min_notional) == (
            spec.tick_size,
            spec.step_size,
            spec.min_notional,
        )
        assert (filters.market_max_qty, filters.multiplier_up) == (
            spec.market_max_qty,
            spec.multiplier_up,
        )


def test_symbol_without_optional_filters_gets_fallbacks() -> None:
    entry = _real_symbol()
    _filter(entry, "LOT_SIZE").update(stepSize="0.002", minQty="0.004", maxQty="500")
    for optional in ("MARKET_LOT_SIZE", "MIN_NOTIONAL", "PERCENT_PRICE"):
        _without_filter(entry, optional)

    filters = parse_exchange_info({"symbols": [entry]})["BTCUSDT"]

    assert (filters.market_step_size, filters.market_min_qty, filters.market_max_qty) == (
        Decimal("0.002"),
        Decimal("0.004"),
        Decimal("500"),
    )
    assert filters.min_notional == 0
    assert (filters.multiplier_up, filters.multiplier_down) == (None, None)


@pytest.mark.parametrize(
    "body",
    [{}, {"symbols": None}, {"symbols": {"BTCUSDT": {}}}, []],
    ids=["missing", "null", "object", "not-an-object"],
)
def test_body_without_symbols_list_is_rejected(body: Any) -> None:
    with pytest.raises(
        ExchangeInfoError, match=r"^exchangeInfo: symbols is missing or not a list$"
    ):
        parse_exchange_info(body)


@pytest.mark.parametrize("filter_type", ["PRICE_FILTER", "LOT_SIZE"])
def test_symbol_without_required_filter_is_rejected(filter_type: str) -> None:
    entry = _without_filter(_real_symbol(), filter_type)

    with pytest.raises(
        ExchangeInfoError, match=rf"^exchangeInfo BTCUSDT: {filter_type} is missing$"
    ):
        parse_exchange_info({"symbols": [entry]})


def test_non_numeric_value_names_symbol_and_field() -> None:
    entry = _real_symbol()
    _filter(entry, "LOT_SIZE")["stepSize"] = "abc"

    with pytest.raises(ExchangeInfoError) as info:
        parse_exchange_info({"symbols": [entry]})

    assert str(info.value) == "exchangeInfo BTCUSDT: LOT_SIZE.stepSize: 'abc' is not a number"


@pytest.mark.parametrize("value", ["", "NaN", "Infinity", True, None, [1], "1e"])
def test_values_that_are_not_finite_numbers_are_rejected(value: Any) -> None:
    entry = _real_symbol()
    _filter(entry, "PRICE_FILTER")["maxPrice"] = value

    with pytest.raises(ExchangeInfoError, match=r"^exchangeInfo BTCUSDT: PRICE_FILTER\.maxPrice: "):
        parse_exchange_info({"symbols": [entry]})


def test_missing_field_of_a_filter_is_named() -> None:
    entry = _real_symbol()
    del _filter(entry, "PRICE_FILTER")["tickSize"]

    with pytest.raises(ExchangeInfoError) as info:
        parse_exchange_info({"symbols": [entry]})

    assert str(info.value) == "exchangeInfo BTCUSDT: PRICE_FILTER.tickSize is missing"


@pytest.mark.parametrize(
    ("filter_type", "key"), [("PRICE_FILTER", "tickSize"), ("LOT_SIZE", "stepSize")]
)
def test_zero_grid_size_is_rejected(filter_type: str, key: str) -> None:
    entry = _real_symbol()
    _filter(entry, filter_type)[key] = "0"

    with pytest.raises(ExchangeInfoError, match=rf"{filter_type}\.{key}: '0' must be > 0$"):
        parse_exchange_info({"symbols": [entry]})


def test_negative_limit_is_rejected() -> None:
    entry = _real_symbol()
    _filter(entry, "LOT_SIZE")["minQty"] = "-1"

    with pytest.raises(ExchangeInfoError, match=r"LOT_SIZE\.minQty: '-1' must be ≥ 0$"):
        parse_exchange_info({"symbols": [entry]})


def test_fractional_precision_is_rejected() -> None:
    entry = _real_symbol()
    entry["quantityPrecision"] = 2.5

    with pytest.raises(ExchangeInfoError) as info:
        parse_exchange_info({"symbols": [entry]})

    assert str(info.value) == "exchangeInfo BTCUSDT: quantityPrecision: 2.5 is not a whole number"


def test_symbol_entry_without_a_name_is_rejected_by_index() -> None:
    body = {"symbols": [_real_symbol(), {"status": "TRADING"}]}

    with pytest.raises(ExchangeInfoError, match=r"^exchangeInfo symbols\[1\]: symbol is missing$"):
        parse_exchange_info(body)


def test_symbol_without_status_is_rejected() -> None:
    entry = _real_symbol()
    del entry["status"]

    with pytest.raises(ExchangeInfoError, match=r"^exchangeInfo BTCUSDT: status is missing$"):
        parse_exchange_info({"symbols": [entry]})


def test_filter_without_filter_type_is_rejected() -> None:
    entry = _real_symbol()
    del entry["filters"][3]["filterType"]

    with pytest.raises(ExchangeInfoError, match=r"^exchangeInfo BTCUSDT: filters\[3\]\.filterType"):
        parse_exchange_info({"symbols": [entry]})


def test_symbol_listed_twice_is_rejected() -> None:
    with pytest.raises(ExchangeInfoError, match=r"^exchangeInfo BTCUSDT: listed twice$"):
        parse_exchange_info({"symbols": [_real_symbol(), _real_symbol()]})


# ------------------------------------------------------------------ rounding


def test_floor_price_to_tick_size() -> None:
    price = BTC.floor_price(Decimal("60000.19"))

    assert price == Decimal("60000.1")
    assert str(price) == "60000.1"


def test_ceil_price_to_tick_size() -> None:
    assert str(BTC.ceil_price(Decimal("60000.11"))) == "60000.2"


def test_price_already_on_tick_is_unchanged_by_floor_and_ceil() -> None:
    on_tick = Decimal("60000.30")

    assert BTC.floor_price(on_tick) == BTC.ceil_price(on_tick) == on_tick


@pytest.mark.parametrize(
    ("price", "rounded"),
    [("60000.14", "60000.1"), ("60000.15", "60000.2"), ("60000.25", "60000.3")],
)
def test_round_price_to_nearest_tick_with_halves_up(price: str, rounded: str) -> None:
    assert str(BTC.round_price(Decimal(price))) == rounded


def test_tiny_tick_keeps_every_decimal_of_the_tick() -> None:
    price = Decimal("0.1500049")

    assert str(DOGE.floor_price(price)) == "0.15000"
    assert str(DOGE.ceil_price(price)) == "0.15001"
    assert str(DOGE.round_price(price)) == "0.15000"


def test_rounding_big_prices_is_exact() -> None:
    filters = dataclasses.replace(BTC, tick_size=Decimal("0.01"))
    price = Decimal("123456789012345.678999")

    assert str(filters.floor_price(price)) == "123456789012345.67"
    assert str(filters.ceil_price(price)) == "123456789012345.68"


def test_rounding_beyond_decimal_precision_raises_instead_of_guessing() -> None:
    with pytest.raises(InvalidOperation):
        BTC.floor_price(Decimal("1E+40"))


def test_tick_larger_than_one_rounds_to_its_multiples() -> None:
    filters = dataclasses.replace(BTC, tick_size=Decimal("5"))

    assert str(filters.floor_price(Decimal("1234.9"))) == "1230"
    assert str(filters.ceil_price(Decimal("1230.1"))) == "1235"


def test_floor_quantity_to_step_size() -> None:
    quantity = BTC.floor_quantity(Decimal("0.0019"))

    assert quantity == Decimal("0.001")
    assert str(quantity) == "0.001"


def test_floor_quantity_never_rounds_up() -> None:
    assert BTC.floor_quantity(Decimal("0.0029999999")) == Decimal("0.002")
    assert BTC.floor_quantity(Decimal("0.0009")) == 0


def test_floor_quantity_to_step_size_one() -> None:
    assert str(DOGE.floor_quantity(Decimal("12.99"))) == "12"


def test_floor_quantity_of_short_position_rounds_toward_zero() -> None:
    assert BTC.floor_quantity(Decimal("-0.0019")) == Decimal("-0.001")


def test_floor_quantity_for_market_uses_market_step() -> None:
    filters = dataclasses.replace(BTC, market_step_size=Decimal("0.01"))

    assert filters.floor_quantity(Decimal("0.019"), market=True) == Decimal("0.01")
    assert filters.floor_quantity(Decimal("0.019")) == Decimal("0.019")


# ------------------------------------------------------------------ formatting


def test_format_price_pads_to_the_tick_decimals() -> None:
    assert DOGE.format_price(Decimal("0.15")) == "0.15000"


def test_format_never_uses_an_exponent() -> None:
    assert DOGE.format_quantity(Decimal("1E+1")) == "10"
    assert BTC.format_price(Decimal("6E+4")) == "60000.0"
    assert BTC.format_quantity(Decimal("0.0010000")) == "0.001"


def test_format_price_off_the_tick_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^BTCUSDT: price 60000.15 is not a multiple of 0.10$"):
        BTC.format_price(Decimal("60000.15"))


def test_format_quantity_off_the_step_is_refused() -> None:
    with pytest.raises(ValueError, match=r"quantity 1.5 is not a multiple of 1$"):
        DOGE.format_quantity(Decimal("1.5"))


# ------------------------------------------------------------------ order checks


def test_valid_limit_order_passes() -> None:
    _check()


def test_valid_market_order_passes() -> None:
    _check(price=None, market=True, quantity=Decimal("0.002"))


def test_symbol_not_trading_is_rejected() -> None:
    violation = _violation(dataclasses.replace(BTC, status="SETTLING"))

    assert violation.filter == "TRADING"
    assert str(violation) == "BTCUSDT TRADING: status is SETTLING, not TRADING"


@pytest.mark.parametrize(
    ("price", "detail"),
    [
        ("60000.15", "price 60000.15 is not a multiple of tickSize 0.10"),
        ("261.00", "price 261.00 < minPrice 261.10"),
        ("809484.1", "price 809484.1 > maxPrice 809484"),
        ("0", "price 0 must be > 0"),
    ],
)
def test_price_outside_price_filter_is_rejected(price: str, detail: str) -> None:
    violation = _violation(price=Decimal(price), mark_price=None)

    assert violation.filter == "PRICE_FILTER"
    assert violation.detail == detail


def test_trigger_price_off_tick_is_rejected() -> None:
    violation = _violation(
        price=None, market=True, reduce_only=True, trigger_price=Decimal("55000.01")
    )

    assert violation.filter == "PRICE_FILTER"
    assert violation.detail == "triggerPrice 55000.01 is not a multiple of tickSize 0.10"


@pytest.mark.parametrize(
    ("quantity", "detail"),
    [
        ("0.0015", "quantity 0.0015 is not a multiple of stepSize 0.001"),
        ("0", "quantity 0 must be > 0"),
        ("1000.001", "quantity 1000.001 > maxQty 1000"),
    ],
)
def test_quantity_outside_lot_size_is_rejected(quantity: str, detail: str) -> None:
    violation = _violation(quantity=Decimal(quantity))

    assert violation.filter == "LOT_SIZE"
    assert violation.detail == detail


def test_quantity_below_min_qty_is_rejected() -> None:
    filters = dataclasses.replace(BTC, min_qty=Decimal("0.002"))

    violation = _violation(filters, quantity=Decimal("0.001"))

    assert violation.filter == "LOT_SIZE"
    assert violation.detail == "quantity 0.001 < minQty 0.002"


def test_market_quantity_above_market_max_is_rejected() -> None:
    violation = _violation(price=None, market=True, quantity=Decimal("121"))

    assert violation.filter == "MARKET_LOT_SIZE"
    assert violation.detail == "quantity 121 > maxQty 120"


def test_limit_quantity_above_market_max_passes() -> None:
    _check(quantity=Decimal("121"), price=Decimal("60000"))


def test_notional_below_min_notional_is_rejected() -> None:
    violation = _violation(quantity=Decimal("0.001"))

    assert violation.filter == "MIN_NOTIONAL"
    assert violation.detail.startswith("notional 60.000 (0.001 × 60000) < 100")


def test_reduce_only_order_is_exempt_from_min_notional() -> None:
    _check(quantity=Decimal("0.001"), reduce_only=True)


def test_market_order_notional_is_priced_at_mark() -> None:
    violation = _violation(price=None, market=True, quantity=Decimal("0.001"))

    assert violation.filter == "MIN_NOTIONAL"
    assert "(0.001 × 60000)" in violation.detail


def test_stop_market_notional_is_priced_at_trigger() -> None:
    violation = _violation(
        price=None, market=True, quantity=Decimal("0.002"), trigger_price=Decimal("40000")
    )

    assert violation.filter == "MIN_NOTIONAL"
    assert "(0.002 × 40000)" in violation.detail


def test_buy_above_mark_times_multiplier_up_is_rejected() -> None:
    violation = _violation(side="BUY", price=Decimal("63000.1"))

    assert violation.filter == "PERCENT_PRICE"
    assert violation.detail == ("BUY price 63000.1 > mark 60000 × multiplierUp 1.0500 = 63000.0000")


def test_sell_below_mark_times_multiplier_down_is_rejected() -> None:
    violation = _violation(side="SELL", price=Decimal("56999.9"))

    assert violation.filter == "PERCENT_PRICE"
    assert violation.detail == (
        "SELL price 56999.9 < mark 60000 × multiplierDown 0.9500 = 57000.0000"
    )


def test_prices_at_the_percent_price_bounds_pass() -> None:
    _check(side="BUY", price=Decimal("63000"))
    _check(side="SELL", price=Decimal("57000"))


def test_percent_price_bounds_only_the_side_it_limits() -> None:
    _check(side="BUY", price=Decimal("50000"))
    _check(side="SELL", price=Decimal("70000"))


def test_percent_price_is_skipped_without_mark_or_multipliers() -> None:
    _check(price=Decimal("70000"), mark_price=None)
    no_percent = dataclasses.replace(BTC, multiplier_up=None, multiplier_down=None)
    _check(no_percent, price=Decimal("70000"))


def test_unknown_side_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="side must be BUY or SELL, got 'buy'") as info:
        _check(side="buy")

    assert not isinstance(info.value, FilterViolation)


def test_market_order_with_a_limit_price_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="has no limit price") as info:
        _check(market=True)

    assert not isinstance(info.value, FilterViolation)
