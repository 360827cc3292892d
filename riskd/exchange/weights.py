"""Binance USDⓈ-M futures request weights, per endpoint and parameters.

The simulator charges these weights and riskd's budgets plan with them; after each call the
budget is reconciled against ``X-MBX-USED-WEIGHT-1M``, so a drift here is corrected, not fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Params = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class EndpointWeight:
    """What one call of an endpoint costs: IP weight and account order count."""

    ip_weight: int
    order_count: int = 0


def _fixed(weight: int, orders: int = 0) -> Callable[[Params], EndpointWeight]:
    cost = EndpointWeight(weight, orders)
    return lambda _params: cost


def _with_symbol(with_symbol: int, without_symbol: int) -> Callable[[Params], EndpointWeight]:
    costs = EndpointWeight(with_symbol), EndpointWeight(without_symbol)
    return lambda params: costs[0] if params.get("symbol") else costs[1]


def _limit_int(params: Params, default: int) -> int:
    try:
        return int(params.get("limit", default))
    except ValueError:
        return default


def _klines(params: Params) -> EndpointWeight:
    limit = _limit_int(params, 500)
    if limit < 100:
        return EndpointWeight(1)
    if limit < 500:
        return EndpointWeight(2)
    if limit <= 1000:
        return EndpointWeight(5)
    return EndpointWeight(10)


def _depth(params: Params) -> EndpointWeight:
    limit = _limit_int(params, 500)
    if limit <= 50:
        return EndpointWeight(2)
    if limit <= 100:
        return EndpointWeight(5)
    if limit <= 500:
        return EndpointWeight(10)
    return EndpointWeight(20)


def _batch_orders(params: Params) -> EndpointWeight:
    # 5 on the IP; each order in the batch counts on the account's order limits.
    raw = params.get("batchOrders", "")
    return EndpointWeight(5, max(1, raw.count("{")))


WEIGHTS: dict[tuple[str, str], Callable[[Params], EndpointWeight]] = {
    ("GET", "/fapi/v1/ping"): _fixed(1),
    ("GET", "/fapi/v1/time"): _fixed(1),
    ("GET", "/fapi/v1/exchangeInfo"): _fixed(1),
    ("GET", "/fapi/v1/klines"): _klines,
    ("GET", "/fapi/v1/depth"): _depth,
    ("GET", "/fapi/v1/ticker/bookTicker"): _with_symbol(2, 5),
    ("GET", "/fapi/v1/ticker/24hr"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/premiumIndex"): _with_symbol(1, 10),
    ("GET", "/fapi/v2/account"): _fixed(5),
    ("GET", "/fapi/v3/account"): _fixed(5),
    ("GET", "/fapi/v2/positionRisk"): _fixed(5),
    ("GET", "/fapi/v3/positionRisk"): _fixed(5),
    ("GET", "/fapi/v1/income"): _fixed(30),
    ("GET", "/fapi/v1/openOrders"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/openOrder"): _fixed(1),
    ("POST", "/fapi/v1/order"): _fixed(0, 1),
    ("GET", "/fapi/v1/order"): _fixed(1),
    ("GET", "/fapi/v1/allOrders"): _fixed(5),
    ("DELETE", "/fapi/v1/order"): _fixed(1),
    ("POST", "/fapi/v1/batchOrders"): _batch_orders,
    ("DELETE", "/fapi/v1/batchOrders"): _fixed(1),
    ("DELETE", "/fapi/v1/allOpenOrders"): _fixed(1),
    ("POST", "/fapi/v1/algoOrder"): _fixed(0, 1),
    ("GET", "/fapi/v1/algoOrder"): _fixed(1),
    ("DELETE", "/fapi/v1/algoOrder"): _fixed(1),
    ("GET", "/fapi/v1/openAlgoOrders"): _with_symbol(1, 40),
    ("DELETE", "/fapi/v1/algoOpenOrders"): _fixed(1),
    ("POST", "/fapi/v1/countdownCancelAll"): _fixed(10),
    ("POST", "/fapi/v1/listenKey"): _fixed(1),
    ("PUT", "/fapi/v1/listenKey"): _fixed(1),
    ("DELETE", "/fapi/v1/listenKey"): _fixed(1),
    ("GET", "/fapi/v1/apiTradingStatus"): _with_symbol(1, 10),
    ("GET", "/fapi/v1/positionSide/dual"): _fixed(30),
    ("POST", "/fapi/v1/positionSide/dual"): _fixed(1),
    ("GET", "/fapi/v1/ticker/price"): _with_symbol(1, 2),
    ("GET", "/fapi/v2/ticker/price"): _with_symbol(1, 2),
    ("GET", "/fapi/v1/fundingRate"): _fixed(1),
    ("PUT", "/fapi/v1/order"): _fixed(0, 1),
    ("GET", "/fapi/v1/leverageBracket"): _fixed(1),
    ("POST", "/fapi/v1/leverage"): _fixed(1),
    ("POST", "/fapi/v1/marginType"): _fixed(1),
    ("GET", "/fapi/v1/userTrades"): _fixed(5),
    # Spot's /sapi, counted by Binance apart from the futures IP limit (X-SAPI-USED-IP-WEIGHT-1M);
    # riskd budgets it with the job's futures weight all the same.
    ("GET", "/sapi/v1/account/apiRestrictions"): _fixed(1),
}


def endpoint_weight(method: str, path: str, params: Params) -> EndpointWeight:
    """Weight of one call; raises KeyError for an endpoint riskd does not know."""
    return WEIGHTS[(method.upper(), path)](params)
