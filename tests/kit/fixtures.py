"""Recorded Binance responses, kept in the repository (provenance: ``binance/SOURCES.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

BINANCE = Path(__file__).resolve().parents[1] / "fixtures" / "binance"


def load_binance(name: str, **decoding: Any) -> Any:
    """The fixture at *name* under ``tests/fixtures/binance``, decoded with ``json.loads``.

    A missing file fails the test that asked for it.
    """
    path = BINANCE / name
    if not path.is_file():
        pytest.fail(f"Binance fixture {name} is missing from {BINANCE}", pytrace=False)
    return json.loads(path.read_text(encoding="utf-8"), **decoding)
