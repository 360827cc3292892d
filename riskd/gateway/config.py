"""The gateway's configuration: where it listens, its access tokens, and what one client and
all of them together may take of it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from riskd.core.bodies import MAX_BODY_BYTES
from riskd.core.frozen import FrozenModel
from riskd.core.net import is_loopback
from riskd.core.secrets import EnvVarName, Secret, SecretSources, invalid, secret_from_env


class GatewayLimitsConfig(FrozenModel):
    """``[gateway.limits]``: what the gateway takes of a client before refusing it, and of all
    clients together. A client is a remote IP address; loopback clients (127.0.0.0/8, ::1)
    count toward the totals only while *loopback_exempt*: riskd's own robots, a reverse proxy
    on this host and the benchmarks all connect from there."""

    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024)
    """A larger body is 413, on its Content-Length before any of it is read."""
    max_header_bytes: int = Field(8190, ge=1024)
    """The request line and each header line (aiohttp's max_line_size and max_field_size):
    aiohttp's parser refuses a longer one, 400 naming the limit (it has no 431), and the
    connection closes."""
    head_timeout_ms: int = Field(5_000, gt=0)
    """A request head (or the next one, on a kept-alive connection) not complete this long
    after the connection opened (or the last answer) is cut off: the connection closes."""
    body_timeout_ms: int = Field(10_000, gt=0)
    """A JSON body not complete this long after its head is 408."""
    websockets_per_client: int = Field(256, ge=1)
    """WebSockets open from one address at once; one more is 429."""
    websockets_total: int = Field(10_000, ge=1)
    """WebSockets open at once from all clients; one more is 429."""
    long_polls_per_client: int = Field(256, ge=1)
    """Ban-list long-polls (``wait`` > 0) waiting from one address at once; one more is 429."""
    long_polls_total: int = Field(10_000, ge=1)
    """Long-polls waiting at once from all clients; one more is 429."""
    messages_per_s: int = Field(10, ge=1)
    """Data messages a client may send on one WebSocket within any second (the streams need
    none); one more closes the socket with 1008 (policy violation)."""
    max_message_bytes: int = Field(4096, ge=1)
    """A larger message from a client closes its WebSocket with 1009 (aiohttp's)."""
    loopback_exempt: bool = True

    @model_validator(mode="after")
    def _client_within_total(self) -> GatewayLimitsConfig:
        for kind in ("websockets", "long_polls"):
            if getattr(self, f"{kind}_per_client") > getattr(self, f"{kind}_total"):
                raise ValueError(f"{kind}_per_client must be at most {kind}_total")
        return self


class GatewayConfig(FrozenModel):
    """Where the gateway listens, the env vars holding its access tokens, and its limits.

    A host other than loopback requires both tokens: one for readers, one for operators.
    """

    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535)
    read_token_env: EnvVarName | None = None
    operator_token_env: EnvVarName | None = None
    limits: GatewayLimitsConfig = GatewayLimitsConfig()
    _read_token: Secret | None = PrivateAttr(None)
    _operator_token: Secret | None = PrivateAttr(None)

    @property
    def read_token(self) -> Secret | None:
        """The token that lets a client read ban lists and market data."""
        return self._read_token

    @property
    def operator_token(self) -> Secret | None:
        """The token that lets an operator change state (unlock, silence, …)."""
        return self._operator_token

    def model_post_init(self, context: Any, /) -> None:
        if not is_loopback(self.host) and None in (self.read_token_env, self.operator_token_env):
            raise invalid(
                f"{self.host} is not loopback: set read_token_env and operator_token_env", "host"
            )
        sources = SecretSources.of(context)
        if not sources.wants("gateway"):
            return
        if self.read_token_env is not None:
            self._read_token = secret_from_env(self.read_token_env, "read_token_env", sources)
        if self.operator_token_env is not None:
            self._operator_token = secret_from_env(
                self.operator_token_env, "operator_token_env", sources
            )
