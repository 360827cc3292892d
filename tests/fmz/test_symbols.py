import re

import pytest

from riskd.fmz.symbols import (
    FmzSymbol,
    OrderRef,
    SymbolError,
    format_order_id,
    from_binance,
    parse_order_id,
    parse_symbol,
)

BTC = FmzSymbol("BTC", "USDT")


def _refused(call, error: str) -> None:
    with pytest.raises(SymbolError, match=f"^{re.escape(error)}$"):
        call()


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("BTC_USDT", BTC),
        ("BTC_USDT.swap", FmzSymbol("BTC", "USDT", swap=True)),
        ("btc_usdt.SWAP", FmzSymbol("BTC", "USDT", swap=True)),
        ("eth_usdt", FmzSymbol("ETH", "USDT")),
        ("1000PEPE_USDC", FmzSymbol("1000PEPE", "USDC")),
    ],
)
def test_fmz_symbols_name_binance_perpetuals(text: str, symbol: FmzSymbol) -> None:
    assert parse_symbol(text) == symbol


def test_a_symbol_shows_as_binance_and_as_fmz_spelt_it() -> None:
    swap = parse_symbol("btc_usdt.swap")
    assert (swap.binance, swap.pair, swap.fmz) == ("BTCUSDT", "BTC_USDT", "BTC_USDT.swap")
    assert parse_symbol("eth_usdt").fmz == "ETH_USDT"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "USDT",
            "params.symbol: 'USDT' is incomplete: name the base and the quote currency, "
            "like BTC_USDT",
        ),
        (
            "usdt.swap",
            "params.symbol: 'usdt.swap' is incomplete: name the base and the quote "
            "currency, like BTC_USDT",
        ),
        (
            "BTC_EUR",
            "params.symbol: unknown quote currency 'EUR' in 'BTC_EUR': riskd trades "
            "perpetuals quoted in USDT or USDC",
        ),
        (
            "BTC-USDT",
            "params.symbol: must be BASE_QUOTE in letters and digits, like BTC_USDT, "
            "not 'BTC-USDT'",
        ),
        (
            "BTC$_USDT",
            "params.symbol: must be BASE_QUOTE in letters and digits, like BTC_USDT, "
            "not 'BTC$_USDT'",
        ),
        (
            "BTC_USDT_X",
            "params.symbol: must be BASE_QUOTE in letters and digits, like "
            "BTC_USDT, not 'BTC_USDT_X'",
        ),
        (
            "_USDT",
            "params.symbol: must be BASE_QUOTE in letters and digits, like BTC_USDT, not '_USDT'",
        ),
        (
            "BTC_USDT.quarter",
            "params.symbol: contract 'quarter' is not served: riskd trades "
            "perpetuals only (.swap), not 'BTC_USDT.quarter'",
        ),
        ("ВТС_USDT", "params.symbol: must be ASCII letters and digits, not 'ВТС_USDT'"),
        (
            f"{'A' * 17}_USDT",
            f"params.symbol: at most 20 letters and digits, not '{'A' * 17}_USDT'",
        ),
        ("", "params.symbol: must be a symbol like BTC_USDT, not ''"),
        (5, "params.symbol: must be a symbol like BTC_USDT, not 5"),
        (None, "params.symbol: must be a symbol like BTC_USDT, not None"),
    ],
)
def test_bad_symbols_are_refused_naming_the_problem(value: object, error: str) -> None:
    _refused(lambda: parse_symbol(value), error)


def test_the_field_is_named_as_the_caller_says() -> None:
    _refused(
        lambda: parse_symbol("X", "symbol"),
        "symbol: must be BASE_QUOTE in letters and digits, like BTC_USDT, not 'X'",
    )


@pytest.mark.parametrize(
    ("binance", "fmz"),
    [("BTCUSDT", "BTC_USDT"), ("ETHUSDC", "ETH_USDC"), ("USDCUSDT", "USDC_USDT")],
)
def test_binance_symbols_translate_back(binance: str, fmz: str) -> None:
    assert from_binance(binance).fmz == fmz
    assert from_binance(binance, swap=True).fmz == f"{fmz}.swap"
    assert parse_symbol(fmz).binance == binance


@pytest.mark.parametrize("binance", ["BTCUSDT_250627", "USDT", "BTCEUR", "btcusdt", ""])
def test_binance_symbols_riskd_does_not_trade_are_refused(binance: str) -> None:
    _refused(
        lambda: from_binance(binance),
        f"symbol: {binance!r} is not a USDⓈ-M perpetual quoted in USDT or USDC",
    )


def test_riskd_order_ids_join_the_pair_and_binance_id() -> None:
    swap = FmzSymbol("BTC", "USDT", swap=True)
    assert format_order_id(swap, 123456) == "BTC_USDT,123456"
    assert OrderRef(BTC, 9).fmz_id == "BTC_USDT,9"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("BTC_USDT,123456", (BTC, 123456)),
        ("BTC_USDT.swap,123456", (FmzSymbol("BTC", "USDT", swap=True), 123456)),
        ("BTC-USDT,123456", (BTC, 123456)),  # the article's form
        ("btc_usdt,8389765519173232283", (BTC, 8389765519173232283)),
        ("123456", (None, 123456)),
        (123456, (None, 123456)),
    ],
)
def test_order_ids_are_read_in_every_form_the_docker_sends(value: object, parsed: tuple) -> None:
    assert parse_order_id(value) == parsed
    symbol, order_id = parsed
    if symbol is not None:
        assert parse_order_id(format_order_id(symbol, order_id)) == (BTC, order_id)


@pytest.mark.parametrize(
    "value",
    [
        "BTC_USDT,",
        "BTC_USDT,abc",
        "BTC_USDT,-1",
        "BTC_USDT,0",
        "0",
        "",
        "9" * 20,
        0,
        -5,
        2**63,
        True,
        1.5,
        None,
        ["1"],
    ],
)
def test_bad_order_ids_are_refused(value: object) -> None:
    with pytest.raises(SymbolError, match=r"^params\.id: must be an order id like BTC_USDT,123456"):
        parse_order_id(value)


def test_an_order_id_with_a_bad_symbol_names_the_symbol_problem() -> None:
    _refused(
        lambda: parse_order_id("BTC_EUR,1"),
        "params.id: unknown quote currency 'EUR' in 'BTC_EUR': riskd trades perpetuals quoted "
        "in USDT or USDC",
    )
