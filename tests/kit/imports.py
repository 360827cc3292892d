"""What importing modules in a fresh interpreter loads."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence


def loaded_by(imports: Sequence[str], watched: Sequence[str]) -> list[str]:
    """Which of *watched* a fresh interpreter has loaded after importing *imports*."""
    probe = (
        f"import importlib, json, sys; [importlib.import_module(m) for m in {list(imports)!r}];"
        f" print(json.dumps([m for m in {list(watched)!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)
