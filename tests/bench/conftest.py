"""The ``bench`` marker: ``pytest -m bench`` runs only the benchmarks' smoke tests, ``-m 'not
bench'`` everything else."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench: runs a script of bench/ as a subprocess")
