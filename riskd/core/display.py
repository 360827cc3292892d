"""Text for a terminal: untrusted strings made inert, epoch milliseconds as UTC and time left."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

# Control (Cc) and format (Cf: bidi overrides, zero-width …) characters can clear a screen,
# move the cursor or reorder what a reader sees; they are shown as escapes instead.
_INERT_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def printable(text: object) -> str:
    """*text* with every control or format character shown as ``\\xNN`` / ``\\uNNNN``."""
    return "".join(
        _escape(ch) if unicodedata.category(ch) in _INERT_CATEGORIES else ch for ch in str(text)
    )


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


ERROR_CHARS: Final = 300  # of an error text kept for a status line
_URL_QUERY: Final = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#'\"<>]*)[?#][^\s'\"<>]*", re.I)


def safe_text(text: str, limit: int = ERROR_CHARS) -> str:
    """*text* fit for a status line: URLs without their query (it holds a request's signature
    and a stream's listenKey), :func:`printable`, at most *limit* characters."""
    shown = printable(_URL_QUERY.sub(r"\1?…", text[:limit]))  # cut first: the scans stay short
    return shown if len(text) <= limit and len(shown) <= limit else f"{shown[: limit - 1]}…"


def printable_lines(text: str) -> str:
    """Like :func:`printable`, keeping the line breaks of a multi-line table."""
    return "\n".join(printable(line) for line in text.split("\n"))


def plain(value: Decimal) -> str:
    """*value* without trailing zeros or exponent (Binance's entryPrice style): SQL's
    fixed scale (``-205.92000000``) reads as ``-205.92``."""
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def utc(ms: int) -> str:
    """Epoch milliseconds as ``2026-12-04 11:23:03Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(ms: int) -> str:
    """A span as ``2d 3h``, ``4h 05m``, ``12m 30s`` or ``8.2s``."""
    seconds = abs(ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    if days:
        return f"{days}d {hour}h"
    if hours:
        return f"{hours}h {minute:02d}m"
    return f"{minutes}m {second:02d}s"


def until(ms: int | None, now_ms: int, *, forever: str = "until unlocked") -> str:
    """An end time with the time left: ``2026-12-04 15:23:03Z (in 4h 00m)``."""
    if ms is None:
        return forever
    left = f"in {duration(ms - now_ms)}" if ms > now_ms else "ended"
    return f"{utc(ms)} ({left})"


def since(ms: int | None, now_ms: int) -> str:
    """A past time with its age: ``2026-12-04 11:23:03Z (1.2s ago)``; ``never`` for None."""
    if ms is None:
        return "never"
    return f"{utc(ms)} ({duration(now_ms - ms)} ago)"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, every cell made printable."""
    cells = [[printable(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
