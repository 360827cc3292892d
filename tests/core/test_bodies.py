import math
import re

import pytest

from riskd.core.bodies import (
    INT64_MAX,
    MAX_DEPTH,
    choice,
    integer,
    json_object,
    parse_json,
    required_texts,
    same_ascii_word,
    shown,
    text,
    whole_number,
)


def _refused(call, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}"):
        call()


# --- parse_json -------------------------------------------------------------------------------


def test_parse_json_reads_utf8_json() -> None:
    assert parse_json('{"reason": "ré", "n": [1, 2.5, null]}'.encode()) == {
        "reason": "ré",
        "n": [1, 2.5, None],
    }


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "the body is not JSON: Expecting value at character 0"),
        (b'{"a": 1', "the body is not JSON: Expecting ',' delimiter at character 7"),
        (b'{"a": "\xff"}', "the body is not UTF-8 (byte 7)"),
        (b"[" * 100_000, f"the body nests arrays and objects more than {MAX_DEPTH} deep"),
        (b'{"a":' * (MAX_DEPTH + 1), f"the body nests arrays and objects more than {MAX_DEPTH}"),
        (b'{"n": ' + b"9" * 5000 + b"}", "the body has an integer of 5000 digits"),
        (b'{"side": "long", "side": "short"}', "'side': given more than once"),
    ],
)
def test_parse_json_refuses_in_its_own_words(raw: bytes, error: str) -> None:
    _refused(lambda: parse_json(raw), error)


def test_nesting_is_counted_outside_strings_only() -> None:
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert isinstance(parse_json(deep.encode()), list)  # as deep as allowed
    brackets = '{"a": "[[[[[[[[[[\\"[[[[[[[[[[", "b": "\\\\"}'
    assert parse_json(brackets.encode()) == {"a": '[[[[[[[[[["[[[[[[[[[[', "b": "\\"}


def test_parse_json_leaves_non_finite_numbers_for_the_field_check_to_name() -> None:
    body = parse_json(b'{"minutes": Infinity, "ends_ms": 1e400}')
    assert body == {"minutes": math.inf, "ends_ms": math.inf}
    _refused(lambda: json_object(body, {"minutes", "ends_ms"}), "minutes: must be a number")


# --- json_object ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "the body must be a JSON object"),
        ({"minutes": math.nan}, "minutes: must be a number from -9223372036854775807 to"),
        ({"minutes": 1e308}, "minutes: must be a number from"),
        ({"until_ms": 10**30}, "until_ms: must be a number from"),
        ({"until_ms": -(2**63)}, "until_ms: must be a number from"),
        ({"matchers": ["a=b", "c\x00"]}, "matchers[1]: must not hold control characters"),
        ({"x": {"y": "z" * 513}}, "x.y: at most 512 characters, not 513"),
        ({"comment": "\ud800"}, "comment: must not hold control characters"),  # not UTF-8
        ({"a\u202e": 1}, "'a\\u202e': not a field name"),
        ({"n" * 65: 1}, f"{shown('n' * 65)}: not a field name"),
        ({"pwd": 1}, "unknown fields: ['pwd']"),
    ],
)
def test_json_object_refuses_what_riskd_cannot_store_or_print(body: object, error: str) -> None:
    _refused(lambda: json_object(body, {"minutes", "until_ms", "matchers", "x", "comment"}), error)


def test_json_object_takes_numbers_within_bigint() -> None:
    body = {"a": INT64_MAX, "b": -INT64_MAX, "c": 1.5, "d": True, "e": None}
    assert json_object(body, body.keys()) is body


def test_json_object_bounds_nesting_of_bodies_that_did_not_come_through_parse_json() -> None:
    body: dict = {"x": []}
    inner = body["x"]
    for _ in range(MAX_DEPTH):
        inner.append([])
        inner = inner[0]
    _refused(lambda: json_object(body, {"x"}), "the body nests arrays and objects more than")


# --- fields -----------------------------------------------------------------------------------


def test_text_is_stripped_bounded_and_printable() -> None:
    assert text("reason", "  news \n") == "news"
    assert required_texts({"a": "x", "b": "y"}, ("a", "b")) == {"a": "x", "b": "y"}
    _refused(lambda: text("reason", 5), "reason: must be a non-empty string")
    _refused(lambda: text("reason", " \t"), "reason: must be a non-empty string")
    _refused(lambda: text("operator", "abcd", 3), "operator: at most 3 characters, not 4")
    _refused(lambda: text("operator", "a\x1b[2Jb"), "operator: must not hold control characters")


def test_choice_matches_exactly() -> None:
    assert choice("side", "long", ("long", "short", "both")) == "long"
    for wrong in ("LONG", "long ", ["long"], None, "ſhort"):  # ſ.upper() == "S"
        _refused(
            lambda wrong=wrong: choice("side", wrong, ("long", "short", "both")),
            f"side: must be long, short or both, not {shown(wrong)}",
        )


def test_integer_is_an_int_in_range_not_a_bool() -> None:
    assert integer("until_ms", 5, 1, 10) == 5
    for wrong in (True, 5.0, "5", 0, 11):
        _refused(lambda wrong=wrong: integer("until_ms", wrong, 1, 10), "until_ms: must be an")


@pytest.mark.parametrize(
    "digits",
    ["\u0663", "\uff13", "1_0", "+1", "-1", " 1", "0", "9223372036854775808", "9" * 5000, ""],
)
def test_whole_number_takes_ascii_digits_in_range_only(digits: str) -> None:
    _refused(
        lambda: whole_number("lock id", digits, 1, INT64_MAX),
        f"lock id: must be a number from 1 to {INT64_MAX}, not ",
    )


def test_whole_number_reads_ascii_digits() -> None:
    assert whole_number("lock id", "0003", 1, INT64_MAX) == 3
    assert whole_number("lock id", str(INT64_MAX), 1, INT64_MAX) == INT64_MAX


def test_same_ascii_word_folds_ascii_case_only() -> None:
    assert all(same_ascii_word(s, "Bearer") for s in ("Bearer", "bearer", "BEARER"))
    assert not same_ascii_word("Bearer ", "Bearer")
    assert not same_ascii_word("\u212aey", "key")  # the Kelvin sign lowers to k


def test_shown_quotes_cut_short_and_escaped() -> None:
    assert shown("a\x1bb") == "'a\\x1bb'"
    assert len(shown("x" * 1000)) == 60
    assert shown(10**5000) == "an integer of 16610 bits"
