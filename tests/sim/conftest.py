"""Fixtures for the in-process tests (``tests.kit.sim_local``)."""

from __future__ import annotations

import pytest

from tests.kit.clock import FrozenClock
from tests.kit.sim_local import Local, local_exchange


@pytest.fixture
def local() -> Local:
    return local_exchange()


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock()
