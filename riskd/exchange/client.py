"""python-binance ``AsyncClient`` construction: network, egress address, timeouts, headers.

Constructing a client makes no network call. Response headers are captured per request
with an aiohttp ``TraceConfig`` (``client.response`` only holds the last response of all).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
from binance import AsyncClient
from multidict import CIMultiDictProxy

from riskd.core.secrets import Secret
from riskd.exchange.config import ExchangeConfig

FAPI_URLS = {
    "mainnet": "https://fapi.binance.com",
    "testnet": "https://testnet.binancefuture.com",
    "sim": "http://127.0.0.1:8765",
}
# Spot's host, which serves /sapi (the key's restrictions); Binance's futures testnet has none.
SAPI_URLS = {
    "mainnet": "https://api.binance.com",
    "sim": FAPI_URLS["sim"],
}
# User-data streams (since 2025 the mainnet one lives under /private).
USER_STREAM_URLS = {
    "mainnet": "wss://fstream.binance.com/private/ws",
    "testnet": "wss://stream.binancefuture.com/ws",
}


@dataclass(slots=True)
class ResponseMeta:
    """What the transport saw of one request: status and headers."""

    status: int | None = None
    headers: CIMultiDictProxy[str] | None = field(default=None)

    def header_int(self, name: str) -> int | None:
        value = self.headers.get(name) if self.headers is not None else None
        return int(value) if value is not None and value.isdigit() else None


_CURRENT_META: contextvars.ContextVar[ResponseMeta | None] = contextvars.ContextVar(
    "riskd_response_meta", default=None
)


def capture_response() -> tuple[ResponseMeta, contextvars.Token]:
    """Start capturing the response of the next request made in this task."""
    meta = ResponseMeta()
    return meta, _CURRENT_META.set(meta)


def stop_capture(token: contextvars.Token) -> None:
    _CURRENT_META.reset(token)


async def _on_request_end(
    _session: aiohttp.ClientSession, _ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    meta = _CURRENT_META.get()
    if meta is not None:
        meta.status = params.response.status
        meta.headers = params.response.headers


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    return trace


def user_stream_ws_kwargs(local_addr: str | None) -> dict:
    """``BinanceSocketManager.ws_kwargs`` that bind the user stream to the egress address."""
    return {"local_addr": (local_addr, 0)} if local_addr else {}


def user_stream_url(config: ExchangeConfig, listen_key: str) -> str:
    """The user-data stream URL for a listenKey; a ``base_url`` override serves it too."""
    if config.base_url or config.network == "sim":
        host = base_url(config).replace("https://", "wss://").replace("http://", "ws://")
        return f"{host}/private/ws?listenKey={listen_key}"
    return f"{USER_STREAM_URLS[config.network]}?listenKey={listen_key}"


def base_url(config: ExchangeConfig) -> str:
    """The fapi host for the configured network (``base_url`` overrides it)."""
    return config.base_url or FAPI_URLS[config.network]


def sapi_base_url(config: ExchangeConfig) -> str | None:
    """The host of ``/sapi`` for the configured network (a ``base_url`` override serves it
    too, as the simulator does); None on the testnet, which serves none."""
    return config.base_url or SAPI_URLS.get(config.network)


def make_client(
    config: ExchangeConfig,
    api_key: Secret | None = None,
    api_secret: Secret | None = None,
    local_addr: str | None = None,
) -> AsyncClient:
    """A python-binance AsyncClient bound to ``local_addr`` (egress IP), without I/O.

    Must be called inside a running event loop (aiohttp creates its session here).
    """
    session_params: dict = {"trace_configs": [_trace_config()]}
    if local_addr:
        session_params["connector"] = aiohttp.TCPConnector(local_addr=(local_addr, 0))
    client = AsyncClient(
        api_key.reveal() if api_key else None,
        api_secret.reveal() if api_secret else None,
        testnet=config.network == "testnet",
        session_params=session_params,
    )
    host = base_url(config)
    client.FUTURES_URL = f"{host}/fapi"
    sapi = sapi_base_url(config)
    if sapi:  # python-binance's get_account_api_permissions goes to MARGIN_API_URL
        client.MARGIN_API_URL = f"{sapi}/sapi"
    client.REQUEST_TIMEOUT = config.request_timeout_ms / 1000
    client.REQUEST_RECVWINDOW = config.recv_window_ms
    return client
