"""Checks shared by the JSON bodies operators send (locks, trading state, silences): each
ValueError names the field that is wrong."""

from __future__ import annotations

from collections.abc import Collection, Iterable


def json_object(body: object, fields: Collection[str]) -> dict:
    """*body* as a dict holding no field outside *fields*."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ValueError(f"unknown fields: {unknown}")
    return body


def required_texts(body: dict, names: Iterable[str]) -> dict[str, str]:
    """The named fields, each a non-empty string, stripped."""
    texts = {}
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: must be a non-empty string")
        texts[name] = value.strip()
    return texts
