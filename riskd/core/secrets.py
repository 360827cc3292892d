"""Secrets: a value that never shows (not in repr, str, logs, dumps or a config file), and
how the config resolves the environment variables and files that hold them."""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn, final

from pydantic import AfterValidator, GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

from riskd.core.files import FileRefused, read_private_text


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


def matching(pattern: str, description: str) -> AfterValidator:
    """A validator rejecting strings that do not fully match *pattern*."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if regex.fullmatch(value) is None:
            raise PydanticCustomError("pattern", f"must be {description}")
        return value

    return AfterValidator(check)


EnvVarName = Annotated[str, matching(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]


@dataclass(frozen=True)
class SecretSources:
    """Where secret references are resolved: the validation context of every config model.

    ``secrets`` limits which owners' secrets are resolved (``"account:<name>"``, ``"gateway"``,
    ``"database"``); None resolves all. An actor resolves only its own, on its own node.
    """

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    base_dir: Path = field(default_factory=Path)
    secrets: frozenset[str] | None = None

    @classmethod
    def of(cls, context: Any) -> SecretSources:
        return context if isinstance(context, SecretSources) else cls()

    def wants(self, owner: str) -> bool:
        return self.secrets is None or owner in self.secrets


def not_loaded(owner: str) -> AttributeError:
    return AttributeError(f"the secrets of {owner} were not loaded in this process")


def invalid(message: str, *loc: str | int) -> ValidationError:
    """An error at *loc*, relative to the model whose validation raises it."""
    error = PydanticCustomError("riskd_config", "{message}", {"message": message})
    return ValidationError.from_exception_data(
        "riskd config", [InitErrorDetails(type=error, loc=loc, input=None)]
    )


def secret_from_env(var: str, key: str, sources: SecretSources) -> Secret:
    value = sources.env.get(var)
    if value is None:
        raise invalid(f"environment variable {var} is not set", key)
    if not value.strip():
        raise invalid(f"environment variable {var} is empty", key)
    return Secret(value.strip())


def secret_from_file(path: Path, key: str, sources: SecretSources) -> Secret:
    """The secret in the file at *path* (relative to the config's folder), which only its
    owner may read or write (``riskd.core.files``)."""
    path = sources.base_dir / path.expanduser()
    try:
        value = read_private_text(path).strip()
    except FileRefused as exc:
        raise invalid(str(exc), key) from None
    if not value:
        raise invalid(f"{path} is empty", key)
    return Secret(value)


def secret_from_refs(
    key: str, var: str | None, path: Path | None, sources: SecretSources
) -> Secret:
    """Resolve whichever one of ``<key>_env`` and ``<key>_file`` is set."""
    if var is not None and path is None:
        return secret_from_env(var, f"{key}_env", sources)
    if path is not None and var is None:
        return secret_from_file(path, f"{key}_file", sources)
    raise invalid(f"set exactly one of {key}_env and {key}_file")
