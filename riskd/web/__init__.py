"""The files riskd's pages are made of (scripts, styles, templates), shipped inside the package:
no page riskd serves or writes loads anything from elsewhere."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def asset(name: str) -> str:
    """The text of asset *name* (``charts.js``, ``page.css`` …) of this package."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
