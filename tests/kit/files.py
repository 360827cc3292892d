"""Config and secret files as riskd reads them: private to their owner."""

from __future__ import annotations

from pathlib import Path


def write_private(path: Path, text: str) -> Path:
    """Write *text* to *path* with mode 0600 (riskd refuses a config or secret file open to
    group or others), its folder made if missing; return *path*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path
