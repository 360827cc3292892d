"""Parsing Binance request parameters, with Binance's errors for bad values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import unquote_plus

from riskd.sim import errors as err
from riskd.sim.errors import BinanceError

Params = Mapping[str, str]
_NUMBER = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$")


def opt(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def req(params: Params, name: str) -> str:
    value = opt(params, name)
    if value is None:
        raise err.mandatory(name)
    return value


def dec(params: Params, name: str, *, required: bool = True) -> Decimal | None:
    raw = req(params, name) if required else opt(params, name)
    if raw is None:
        return None
    if not _NUMBER.match(raw):
        raise err.illegal_chars(name)
    return Decimal(raw)


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
