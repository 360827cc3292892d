"""How riskd reaches Binance USDⓈ-M futures (or the simulator): the ``[exchange]`` section."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from riskd.core.frozen import FrozenModel


class ExchangeConfig(FrozenModel):
    """How riskd reaches Binance USDⓈ-M futures, or the simulator."""

    network: Literal["mainnet", "testnet", "sim"] = "sim"
    # Overrides the fapi base URL of the network, e.g. "http://127.0.0.1:8765".
    base_url: str | None = None
    request_timeout_ms: int = Field(10_000, gt=0)
    recv_window_ms: int = Field(5_000, ge=1, le=60_000)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise PydanticCustomError("url", "must be an http:// or https:// URL")
        return url.rstrip("/")
