"""FMZ universal-protocol samples: requests the docker sends and the answers it expects, as the
protocol's article shows them (its comments dropped), and a body builder for requests."""

from __future__ import annotations

import json
from typing import Any, Final

ROBOT: Final = "bot-1"
TOKEN: Final = "tok-1-secret"
NONCE_NS: Final = 1_730_275_031_047_002_000
"""The article's nonce: nanoseconds."""
NONCE_MS: Final = 1_730_275_031_047

# --- requests: the params the article shows per FMZ function --------------------------------

TICKER_PARAMS: Final = {"symbol": "ETH_USDT"}
DEPTH_PARAMS: Final = {"limit": "30", "symbol": "ETH_USDT"}
TRADES_PARAMS: Final = {"symbol": "eth_usdt"}
RECORDS_PARAMS: Final = {"limit": "500", "period": "60", "symbol": "ETH_USDT"}
ACCOUNTS_PARAMS: Final[dict[str, Any]] = {}
TRADE_PARAMS: Final = {"amount": "0.1", "price": "1000", "symbol": "BTC_USDT", "type": "buy"}
ORDERS_PARAMS: Final = {"symbol": "ETH_USDT"}
ORDER_PARAMS: Final = {"id": "ETH-USDT,123456", "symbol": "ETH_USDT"}
HISTORY_ORDERS_PARAMS: Final = {"limit": 0, "since": 0, "symbol": "ETH_USDT"}
CANCEL_PARAMS: Final = {"id": "ETH-USDT,123456", "symbol": "ETH_USDT"}

# --- answers: the data the article shows per FMZ function -----------------------------------

TICKER: Final = {
    "symbol": "ETH_USDT",
    "buy": "2922.18",
    "sell": "2922.19",
    "high": "2955",
    "low": "2775.15",
    "open": "2787.72",
    "last": "2922.18",
    "vol": "249400.888156",
    "time": "1731028903911",
}
DEPTH: Final = {
    "time": 1500793319499,
    "asks": [[1000, 0.5], [1001, 0.23], [1004, 2.1]],
    "bids": [[999, 0.25], [998, 0.8], [995, 1.4]],
}
TRADES: Final = [
    {"id": 12232153, "time": 1529919412968, "price": 1000, "amount": 0.5, "type": "buy"},
    {"id": 12545664, "time": 1529919412900, "price": 1001, "amount": 1, "type": "sell"},
]
RECORDS: Final = [
    [1500793319, 1.1, 2.2, 3.3, 4.4, 5.5],
    [1500793259, 1.01, 2.02, 3.03, 4.04, 5.05],
]
ACCOUNTS: Final = [
    {"currency": "TUSD", "free": "3000", "frozen": "0"},
    {"currency": "BTC", "free": "0.2482982056277609", "frozen": "0"},
]
CREATED: Final = {"id": "BTC-USDT,123456"}
ORDERS: Final = [
    {
        "id": "ETH-USDT,123456",
        "symbol": "ETH_USDT",
        "amount": 0.25,
        "price": 1005,
        "deal_amount": 0,
        "avg_price": "1000",
        "type": "buy",
        "status": "pending",
    }
]
ORDER: Final = {
    "id": "ETH-USDT,123456",
    "symbol": "ETH_USDT",
    "amount": 0.15,
    "price": 1002,
    "status": "pending",
    "deal_amount": 0,
    "type": "buy",
    "avg_price": 0,
}
HISTORY_ORDERS: Final = [
    {
        "id": "ETH-USDT,123456",
        "symbol": "ETH_USDT",
        "amount": 0.25,
        "price": 1005,
        "deal_amount": 0,
        "avg_price": 1000,
        "type": "buy",
        "status": "filled",
    }
]
CANCEL: Final = True
FMZ_ORDER_STATUSES: Final = frozenset(
    {
        "pending",
        "pre-submitted",
        "submitting",
        "submitted",
        "partial-filled",
        "filled",
        "closed",
        "finished",
        "partial-canceled",
        "canceled",
    }
)
"""Every order status the article lists."""


def fmz_body(method: str, params: object = None, **top: object) -> bytes:
    """A request body as the docker sends it; *top* overrides (or, as None, drops) a key."""
    body: dict[str, object] = {
        "access_key": ROBOT,
        "method": method,
        "nonce": NONCE_NS,
        "params": {} if params is None else params,
        "secret_key": TOKEN,
    }
    for key, value in top.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body).encode()
