"""Checks shared by what operators send (JSON bodies for locks, trading state and silences; ids
and names in paths and queries): each ValueError names the field that is wrong, in riskd's own
words, and quotes what was sent only cut short and with control characters escaped."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Final

MAX_BODY_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 8  # arrays and objects within each other; riskd's bodies need 2
MAX_TEXT_CHARS: Final = 512  # the widest text column an operator fills (reasons, comments)
MAX_NAME_CHARS: Final = 64  # a field name
MAX_INT_DIGITS: Final = 40  # a longer integer is refused unread (an int64 has 19 digits)
INT64_MAX: Final = 2**63 - 1  # BIGINT
MAX_EPOCH_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last a date shows
_SHOWN_CHARS: Final = 60
# Control (Cc), format (Cf: bidi overrides, zero-width …), lone surrogates (Cs: not UTF-8) and
# line or paragraph separators: none belongs in a name or a reason that a console prints.
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_DIGITS: Final = re.compile(r"[0-9]{1,19}")  # INT64_MAX has 19
_JSON_TOKEN: Final = re.compile(r'[\\"\[\]{}]')


def shown(value: object) -> str:
    """*value* quoted for an error message (``repr`` escapes what would not print), cut short."""
    if isinstance(value, int) and value.bit_length() > 256:  # a long repr; none past 4300 digits
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 1]}…"


def same_ascii_word(text: str, word: str) -> bool:
    """Whether *text* is *word* but for the case of ASCII letters (``Bearer``, ``UTF-8``):
    ``str.lower`` alone would also fold non-ASCII look-alikes."""
    return text.isascii() and text.lower() == word.lower()


def parse_json(raw: bytes) -> object:
    """The JSON in a request body. ValueError when it is not UTF-8 JSON, nests arrays and
    objects more than MAX_DEPTH deep, has an integer of more than MAX_INT_DIGITS digits or
    repeats a field (checked before parsing, so nothing recurses or converts without bound)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 (byte {exc.start})") from None
    if _nesting(text) > MAX_DEPTH:
        raise ValueError(f"the body nests arrays and objects more than {MAX_DEPTH} deep")
    try:
        return json.loads(text, parse_int=_integer, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc.msg} at character {exc.pos}") from None


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in JSON *text*, counting up to MAX_DEPTH + 1."""
    depth = 0
    in_string = False
    escaped_at = -1  # the position a backslash in a string escapes
    for token in _JSON_TOKEN.finditer(text):
        char, at = token.group(), token.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return depth
        elif char in "]}":
            depth -= 1
    return depth


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"the body has an integer of {len(digits)} digits")
    return int(digits)


def _object(pairs: Sequence[tuple[str, object]]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name, value in pairs:
        if name in fields:
            raise ValueError(f"{shown(name)}: given more than once")
        fields[name] = value
    return fields


def json_object(body: object, fields: Collection[str]) -> dict:
    """*body* as a dict holding no field outside *fields*, and nothing riskd cannot store or
    print anywhere in it: numbers are finite and within ±INT64_MAX, strings at most
    MAX_TEXT_CHARS long with no unprintable character, nesting at most MAX_DEPTH deep."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    _check(body, "", 1)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ValueError(f"unknown fields: {unknown}")
    return body


def _check(value: object, path: str, depth: int) -> None:
    """Refuse what ``json_object`` promises is not in *value* (at *path*)."""
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        raise ValueError(f"the body nests arrays and objects more than {MAX_DEPTH} deep")
    if isinstance(value, dict):
        for name, item in value.items():
            if not (isinstance(name, str) and len(name) <= MAX_NAME_CHARS and _is_printable(name)):
                raise ValueError(f"{shown(name)}: not a field name")
            _check(item, f"{path}.{name}" if path else name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, str):
        _bounded(path, value, MAX_TEXT_CHARS)
    elif isinstance(value, int | float) and not _storable(value):
        raise ValueError(
            f"{path}: must be a number from {-INT64_MAX} to {INT64_MAX}, not {shown(value)}"
        )


def _storable(number: float) -> bool:
    """Whether *number* is finite and within a BIGINT's range (a bool is 0 or 1)."""
    return math.isfinite(number) and -INT64_MAX <= number <= INT64_MAX


def _is_printable(value: str) -> bool:
    return not any(unicodedata.category(ch) in _UNPRINTABLE for ch in value)


def _bounded(name: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise ValueError(f"{name}: at most {max_chars} characters, not {len(value)}")
    if not _is_printable(value):
        raise ValueError(f"{name}: must not hold control characters, not {shown(value)}")


def text(name: str, value: object, max_chars: int = MAX_TEXT_CHARS) -> str:
    """*value* as a non-empty string, stripped, at most *max_chars* long, printable."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: must be a non-empty string")
    stripped = value.strip()
    _bounded(name, stripped, max_chars)
    return stripped


def required_texts(body: dict, names: Iterable[str]) -> dict[str, str]:
    """The named fields, each a :func:`text` of at most MAX_TEXT_CHARS."""
    return {name: text(name, body.get(name)) for name in names}


def choice(name: str, value: object, choices: Sequence[str]) -> str:
    """*value*, exactly one of *choices* (no case folding: the value is what is stored)."""
    if isinstance(value, str) and value in choices:
        return value
    allowed = f"{', '.join(choices[:-1])} or {choices[-1]}"
    raise ValueError(f"{name}: must be {allowed}, not {shown(value)}")


def integer(name: str, value: object, low: int, high: int) -> int:
    """*value*, an integer (not a bool, not a float) from *low* to *high*."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise ValueError(f"{name}: must be an integer from {low} to {high}, not {shown(value)}")


def whole_number(name: str, digits: str, low: int, high: int) -> int:
    """*digits* (an id in a path, a number in a query) as an integer from *low* to *high* at
    most INT64_MAX: ASCII digits only, where ``int()`` also takes other scripts' digits, signs,
    spaces and ``_``."""
    if _DIGITS.fullmatch(digits) and low <= int(digits) <= high:
        return int(digits)
    raise ValueError(f"{name}: must be a number from {low} to {high}, not {shown(digits)}")
