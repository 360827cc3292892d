"""Parsing Binance request parameters, with Binance's errors for bad values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import overload
from urllib.parse import unquote_plus

from riskd.sim import errors as err
from riskd.sim.errors import BinanceError

Params = Mapping[str, str]
_NUMBER = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")

SIDES = ("BUY", "SELL")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")


def opt(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def req(params: Params, name: str) -> str:
    value = opt(params, name)
    if value is None:
        raise err.mandatory(name)
    return value


def dec(params: Params, name: str) -> Decimal:
    return _number(req(params, name), name)


def opt_dec(params: Params, name: str) -> Decimal | None:
    raw = opt(params, name)
    return None if raw is None else _number(raw, name)


def _number(raw: str, name: str) -> Decimal:
    if not _NUMBER.match(raw):
        raise err.illegal_chars(name)
    return Decimal(raw)


@overload
def integer(params: Params, name: str, default: int) -> int: ...


@overload
def integer(params: Params, name: str, default: None = None) -> int | None: ...


def integer(params: Params, name: str, default: int | None = None) -> int | None:
    raw = opt(params, name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise err.illegal_chars(name)
    return int(raw)


def boolean(params: Params, name: str) -> bool:
    raw = opt(params, name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise err.mandatory(name)
    return raw.lower() == "true"


def choice(
    params: Params,
    name: str,
    allowed: tuple[str, ...],
    error: BinanceError,
    default: str | None = None,
) -> str:
    raw = opt(params, name)
    if raw is None:
        if default is None:
            raise err.mandatory(name)
        return default
    if raw not in allowed:
        raise error
    return raw


def json_list(params: Params, name: str, limit: int, size_error: BinanceError) -> list:
    raw = req(params, name)
    try:
        items = json.loads(unquote_plus(raw))
    except ValueError as exc:
        raise err.mandatory(name) from exc
    if not isinstance(items, list) or not items:
        raise err.mandatory(name)
    if len(items) > limit:
        raise size_error
    return items


# ---------------------------------------------------------------- order parameters


def side(params: Params) -> str:
    return choice(params, "side", SIDES, err.INVALID_SIDE)


def time_in_force(params: Params, default: str | None = None) -> str:
    return choice(params, "timeInForce", TIME_IN_FORCE, err.INVALID_TIF, default)


def working_type(params: Params) -> str:
    return choice(params, "workingType", WORKING_TYPES, err.INVALID_WORKING_TYPE, "CONTRACT_PRICE")


def stp_mode(params: Params) -> str:
    return choice(
        params,
        "selfTradePreventionMode",
        STP_MODES,
        err.mandatory("selfTradePreventionMode"),
        "EXPIRE_MAKER",
    )


def position_side(params: Params, dual_side: bool) -> str:
    """positionSide: BOTH in one-way mode, LONG or SHORT in hedge mode."""
    value = opt(params, "positionSide") or "BOTH"
    if dual_side != (value in ("LONG", "SHORT")) or value not in ("BOTH", "LONG", "SHORT"):
        raise err.POSITION_SIDE_MISMATCH
    return value


def reduce_only(params: Params, dual_side: bool) -> bool:
    """reduceOnly, which hedge mode does not accept at all."""
    if dual_side and opt(params, "reduceOnly") is not None:
        raise err.not_required("reduceOnly")
    return boolean(params, "reduceOnly")
