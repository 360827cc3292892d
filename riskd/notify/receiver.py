"""What every receiver takes and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message: a Feishu interactive card and its plain-text twin.

    ``uuid`` is the message's idempotency key: Feishu's message create drops a second request
    with the same uuid within an hour, so a message retried after a restart is shown once.
    """

    uuid: str
    card: dict[str, Any]
    text: str


class DeliveryError(Exception):
    """A message was not delivered. ``retryable``: the same message may succeed later (5xx,
    timeouts, rate limits); otherwise retrying cannot help (bad signature, unknown chat).
    ``retry_after_ms``: how long the receiver asked to wait, if it said."""

    def __init__(self, message: str, *, retryable: bool, retry_after_ms: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms


class Receiver(Protocol):
    """Delivers messages somewhere; ``send`` returns once delivered or raises DeliveryError."""

    name: str

    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...
