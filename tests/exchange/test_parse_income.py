"""GET /fapi/v1/income bodies → IncomeRecord, with precise errors."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_income import IncomeRecord, parse_income
from tests.kit.fixtures import load_binance

DOCS = "docs/fapi_v1_income.docs.json"
SDK_DOCS = "docs/fapi_v1_income.sdk_docs.json"
FUNDING_REAL = "real/papi_v1_um_income_FUNDING_FEE.ccxt_real_2024-02-09.json"


def _docs() -> list[dict[str, Any]]:
    return load_binance(DOCS)


def test_docs_body_parses_account_wide_and_trade_rows() -> None:
    assert parse_income(_docs()) == (
        IncomeRecord(
            tran_id=9689322392,
            income_type="TRANSFER",
            symbol="",
            asset="USDT",
            amount=Decimal("-0.37500000"),
            time_ms=1570608000000,
            trade_id="",
            info="TRANSFER",
        ),
        IncomeRecord(
            tran_id=9689322392,
            income_type="COMMISSION",
            symbol="BTCUSDT",
            asset="USDT",
            amount=Decimal("-0.01000000"),
            time_ms=1570636800000,
            trade_id="2059192",
            info="COMMISSION",
        ),
    )


def test_sdk_docs_body_parses() -> None:
    assert [r.income_type for r in parse_income(load_binance(SDK_DOCS))] == ["TRANSFER"]


def test_ccxt_recording_with_string_tran_id_and_time_keeps_every_digit() -> None:
    (record,) = parse_income(load_binance(FUNDING_REAL))
    assert record.tran_id == 8082457372019390060  # beyond a double's 2**53
    assert record.time_ms == 1707465600000
    assert record.amount == Decimal("-0.04618913")
    assert (record.income_type, record.symbol, record.trade_id) == ("FUNDING_FEE", "BTCUSDT", "")


def test_body_decoded_with_decimal_floats_keeps_exact_amounts() -> None:
    body = _docs()
    body[0]["income"] = Decimal("-0.375")
    assert parse_income(body)[0].amount == Decimal("-0.375")


def test_empty_page_is_no_records() -> None:
    assert parse_income([]) == ()


def test_numeric_trade_id_is_kept_as_its_digits() -> None:
    body = _docs()
    body[1]["tradeId"] = 2059192
    assert parse_income(body)[1].trade_id == "2059192"


def test_absent_info_is_empty() -> None:
    body = _docs()
    del body[0]["info"]
    assert parse_income(body)[0].info == ""


def _error(body: object) -> str:
    with pytest.raises(PayloadError) as info:
        parse_income(body)  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("tranId", 9689322392.0, "a float is not an int64 id"),
        ("tranId", 2**63, "an integer is not an int64 id"),
        ("tranId", "-1", "a string is not an int64 id"),
        ("tranId", True, "a boolean is not an int64 id"),
        ("income", -0.01, "is a float; decode with parse_float=Decimal"),
        ("income", "1e3", "a string is not a decimal"),
        ("time", 1570636800000.0, "a float is not a time in ms"),
        ("incomeType", "", "an empty string is not a non-empty string"),
        ("asset", None, "null is not a non-empty string"),
        ("symbol", None, "null is not a string"),
    ],
)
def test_bad_field_is_named_with_its_path(field: str, value: object, problem: str) -> None:
    body = copy.deepcopy(_docs())
    body[1][field] = value
    assert _error(body) == f"GET /fapi/v1/income: [1].{field}: {problem}"


@pytest.mark.parametrize("field", ["tranId", "incomeType", "income", "asset", "time"])
def test_missing_required_field_is_named(field: str) -> None:
    body = _docs()
    del body[0][field]
    assert _error(body) == f"GET /fapi/v1/income: [0].{field}: is missing"


def test_body_that_is_not_a_list_is_refused() -> None:
    assert _error({"code": -1000}) == "GET /fapi/v1/income: body: an object is not a list"


def test_row_that_is_not_an_object_is_refused() -> None:
    assert _error(["x"]) == "GET /fapi/v1/income: [0]: a string is not an object"
