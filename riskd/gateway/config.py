"""The gateway's configuration: where it listens, and its access tokens."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from riskd.core.frozen import FrozenModel
from riskd.core.net import is_loopback
from riskd.core.secrets import EnvVarName, Secret, SecretSources, invalid, secret_from_env


class GatewayConfig(FrozenModel):
    """Where the gateway listens, and the env vars holding its access tokens.

    A host other than loopback requires both tokens: one for readers, one for operators.
    """

    host: str = "127.0.0.1"
    port: int = Field(8780, ge=0, le=65535)
    read_token_env: EnvVarName | None = None
    operator_token_env: EnvVarName | None = None
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
