"""Robots' tokens: which robot a bearer token (or the FMZ protocol's secret key) names."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Protocol, final

from riskd.core.secrets import Secret


class Robot(Protocol):
    """What :meth:`RobotTokens.of` needs of a robot (``riskd.trade.config.RobotConfig``)."""

    @property
    def name(self) -> str: ...

    @property
    def token(self) -> Secret: ...


def _digest(token: str | bytes) -> bytes:
    """*token*'s SHA-256: every comparison is then of 32 bytes, whatever the lengths."""
    raw = token.encode("utf-8", "surrogateescape") if isinstance(token, str) else token
    return hashlib.sha256(raw).digest()


@final
class RobotTokens:
    """The robots' tokens, each naming its robot. A token is compared with every robot's in
    constant time; tokens never show (repr names the robots only)."""

    __slots__ = ("_digests",)

    def __init__(self, tokens: Mapping[str, Secret] | None = None) -> None:
        """*tokens*: each robot's name → its token. Two robots with one token are a
        ValueError: the token could not say which robot sends it."""
        digests: dict[str, bytes] = {}
        for name, token in (tokens or {}).items():
            digest = _digest(token.reveal())
            shared = [
                other for other, known in digests.items() if hmac.compare_digest(known, digest)
            ]
            if shared:
                raise ValueError(f"robots {shared[0]!r} and {name!r} have the same token")
            digests[name] = digest
        self._digests = digests

    @classmethod
    def of(cls, robots: Iterable[Robot]) -> RobotTokens:
        """The tokens of *robots* (their secrets loaded)."""
        return cls({robot.name: robot.token for robot in robots})

    def __bool__(self) -> bool:
        """Whether any robot is configured."""
        return bool(self._digests)

    def __repr__(self) -> str:
        return f"RobotTokens({sorted(self._digests)!r})"

    @property
    def names(self) -> tuple[str, ...]:
        """The robots, sorted."""
        return tuple(sorted(self._digests))

    def robot_for(self, token: str | bytes) -> str | None:
        """The robot whose token *token* is; None when it is no robot's. Every robot's token
        is compared, so the time taken does not tell how close a guess came, nor whose."""
        given = _digest(token)
        found = None
        for name, digest in self._digests.items():
            if hmac.compare_digest(given, digest):
                found = name
        return found
