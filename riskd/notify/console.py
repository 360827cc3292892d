"""The console receiver: each message's text, time-stamped, on a stream and in the log."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from riskd.notify.receiver import Message

log = logging.getLogger(__name__)


class ConsoleReceiver:
    """Writes ``message.text`` to ``stream`` (standard output by default) and logs it at INFO.

    Never raises: a closed or broken stream is logged and the message counts as delivered.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        name: str = "console",
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._stream = stream
        self._now_s = now_s

    def __repr__(self) -> str:
        return f"ConsoleReceiver(name={self.name!r})"

    async def send(self, message: Message) -> None:
        """Write and log the text."""
        stamp = datetime.fromtimestamp(self._now_s(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        log.info("%s: %s", self.name, message.text)
        # Resolved per call so a replaced sys.stdout (daemonised, captured) is honoured.
        stream = self._stream or sys.stdout
        try:
            stream.write(f"{stamp} {message.text}\n")
            stream.flush()
        except (OSError, ValueError, AttributeError) as exc:  # AttributeError: no stdout
            log.warning("%s: cannot write to the console (%s)", self.name, exc)

    async def close(self) -> None:
        """Nothing to release; the stream belongs to the caller."""
