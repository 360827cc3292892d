"""The base of every riskd config object."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Immutable, and unknown keys are errors (they name the key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
