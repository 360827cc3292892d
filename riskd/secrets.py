"""A secret value that never shows: not in repr, str, logs, dumps or a config file."""

from __future__ import annotations

import hmac
from typing import Any, NoReturn, final

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


@final
class Secret:
    """An immutable secret string that shows as ``Secret('***')`` and dumps as ``'***'``.

    As a pydantic field type it accepts only ``Secret`` instances, so a secret can never be
    written as a literal value in a config file.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the secret value; call this only where the value is sent or compared."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return Secret, (self._value,)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_secret,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: "***"),
        )


def _validate_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    raise PydanticCustomError(
        "secret_literal", "secrets come from environment variables or files, never literals"
    )
