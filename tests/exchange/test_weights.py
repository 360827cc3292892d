"""The weight table: Binance's documented weights and their parameter variants."""

from __future__ import annotations

import pytest

from riskd.exchange.weights import EndpointWeight, endpoint_weight


@pytest.mark.parametrize(
    ("method", "path", "params", "cost"),
    [
        ("GET", "/fapi/v2/account", {}, EndpointWeight(5)),
        ("GET", "/fapi/v3/positionRisk", {}, EndpointWeight(5)),
        ("GET", "/fapi/v1/income", {"limit": "1000"}, EndpointWeight(30)),
        ("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, EndpointWeight(1)),
        ("GET", "/fapi/v1/openOrders", {}, EndpointWeight(40)),
        ("GET", "/fapi/v1/openAlgoOrders", {}, EndpointWeight(40)),
        ("GET", "/fapi/v1/ticker/bookTicker", {}, EndpointWeight(5)),
        ("GET", "/fapi/v1/klines", {"limit": "99"}, EndpointWeight(1)),
        ("GET", "/fapi/v1/klines", {"limit": "100"}, EndpointWeight(2)),
        ("GET", "/fapi/v1/klines", {}, EndpointWeight(5)),
        ("GET", "/fapi/v1/klines", {"limit": "1500"}, EndpointWeight(10)),
        ("GET", "/fapi/v1/depth", {"limit": "5"}, EndpointWeight(2)),
        ("GET", "/fapi/v1/depth", {"limit": "1000"}, EndpointWeight(20)),
        ("POST", "/fapi/v1/order", {}, EndpointWeight(0, 1)),
        ("POST", "/fapi/v1/algoOrder", {}, EndpointWeight(0, 1)),
        (
            "POST",
            "/fapi/v1/batchOrders",
            {"batchOrders": '[{"a":1},{"b":2}]'},
            EndpointWeight(5, 2),
        ),
        ("POST", "/fapi/v1/countdownCancelAll", {}, EndpointWeight(10)),
        ("GET", "/fapi/v1/apiTradingStatus", {}, EndpointWeight(10)),
    ],
)
def test_endpoint_weights(method, path, params, cost) -> None:
    assert endpoint_weight(method, path, params) == cost


def test_method_is_case_insensitive_and_unknown_endpoints_raise() -> None:
    assert endpoint_weight("get", "/fapi/v1/time", {}) == EndpointWeight(1)
    with pytest.raises(KeyError):
        endpoint_weight("GET", "/fapi/v1/nope", {})


def test_non_numeric_limit_falls_back_to_the_default_weight() -> None:
    assert endpoint_weight("GET", "/fapi/v1/klines", {"limit": "x"}) == EndpointWeight(5)
