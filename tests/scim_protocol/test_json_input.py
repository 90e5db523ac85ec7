"""check_json: the nesting limit and the characters PostgreSQL cannot store, wherever they are
in a body, and which fault a body with several is refused for."""

from __future__ import annotations

import random
from typing import Any

import pytest

from scim_protocol.errors import InvalidSyntax, InvalidValue
from scim_protocol.json_input import MAX_DEPTH, check_json, unstorable

TOO_DEEP = f"The JSON body is nested more than {MAX_DEPTH} levels deep."
UNSTORABLE = "A string holds a NUL character or an unpaired surrogate: it cannot be stored."


def _nested(levels: int, innermost: Any, *, as_object: bool = False) -> Any:
    """`innermost` inside `levels` arrays (or objects), so it is `levels` levels deep."""
    value = innermost
    for _ in range(levels):
        value = {"a": value} if as_object else [value]
    return value


def _outcome(value: Any) -> tuple[type[Exception], str] | None:
    try:
        check_json(value)
    except (InvalidSyntax, InvalidValue) as error:
        return type(error), error.detail
    return None


def _reference_outcome(value: Any) -> tuple[type[Exception], str] | None:
    """check_json's answer as a stack of (item, depth) gives it: every member pushed, the last
    pushed checked first (so a container's last member first, a value before its key)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return InvalidSyntax, TOO_DEEP
        if isinstance(item, str):
            if "\x00" in item:
                return InvalidValue, UNSTORABLE
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return InvalidValue, UNSTORABLE
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None


@pytest.mark.parametrize("as_object", [False, True], ids=["arrays", "objects"])
def test_a_body_max_depth_deep_is_accepted(as_object: bool) -> None:
    check_json(_nested(MAX_DEPTH, "x", as_object=as_object))
    check_json(_nested(MAX_DEPTH - 1, [], as_object=as_object))
    check_json(_nested(MAX_DEPTH - 1, {}, as_object=as_object))


@pytest.mark.parametrize("innermost", ["x", 1, None, True, 2.5, [], {}])
@pytest.mark.parametrize("as_object", [False, True], ids=["arrays", "objects"])
def test_anything_deeper_than_max_depth_is_refused(innermost: Any, as_object: bool) -> None:
    body = _nested(MAX_DEPTH + 1, innermost, as_object=as_object)

    with pytest.raises(InvalidSyntax) as raised:
        check_json(body)

    assert raised.value.detail == TOO_DEEP


def test_a_very_deep_body_is_refused_without_recursing_through_it() -> None:
    with pytest.raises(InvalidSyntax):
        check_json(_nested(100_000, "x"))


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\ud800", "x\udfff", "é\ud83d"])
@pytest.mark.parametrize(
    "place",
    [
        lambda s: s,
        lambda s: {"userName": s},
        lambda s: {s: "value"},
        lambda s: ["ok", s, "ok"],
        lambda s: {"emails": [{"value": s, "type": "work"}]},
        lambda s: {"urn:x": {"manager": {s: 1}}},
    ],
    ids=["alone", "value", "key", "array", "nested value", "nested key"],
)
def test_a_nul_or_a_lone_surrogate_is_refused_wherever_it_is(bad: str, place: Any) -> None:
    with pytest.raises(InvalidValue) as raised:
        check_json(place(bad))

    assert raised.value.detail == UNSTORABLE
    assert unstorable(bad)


@pytest.mark.parametrize("good", ["", "plain", "Zoë", "日本語", "😀", "\U0010ffff", "\ufffd"])
def test_other_strings_are_accepted(good: str) -> None:
    check_json({good: [good, {"k": good}]})

    assert not unstorable(good)


@pytest.mark.parametrize("scalar", [None, True, False, 0, -1, 2**70, 1.5])
def test_scalars_are_accepted(scalar: Any) -> None:
    check_json(scalar)
    check_json({"a": [scalar]})


def test_of_several_faults_the_last_member_s_is_met_first() -> None:
    assert _outcome({"a": "\x00", "b": _nested(MAX_DEPTH, "x")}) == (InvalidSyntax, TOO_DEEP)
    assert _outcome({"b": _nested(MAX_DEPTH, "x"), "a": "\x00"}) == (InvalidValue, UNSTORABLE)
    assert _outcome(["\x00", _nested(MAX_DEPTH, "x")]) == (InvalidSyntax, TOO_DEEP)


def test_of_a_faulty_key_and_its_faulty_value_the_value_s_is_met_first() -> None:
    assert _outcome({"\x00": _nested(MAX_DEPTH, "x")}) == (InvalidSyntax, TOO_DEEP)


def test_any_body_gets_the_answer_a_stack_of_members_gives() -> None:
    rng = random.Random(21)  # noqa: S311 - test bodies, not secrets
    strings = ["a", "", "é", "\x00", "\ud800", "ok\x00", "ü\udc00", "日本", "😀"]

    def body(depth: int) -> Any:
        roll = rng.random()
        if depth > MAX_DEPTH + 3 or roll < 0.3:
            return rng.choice([1, None, True, 2.5, *strings])
        if roll < 0.65:
            keys = [*strings, "k1", "k2", "k3"]
            return {rng.choice(keys): body(depth + 1) for _ in range(rng.randint(0, 3))}
        return [body(depth + 1) for _ in range(rng.randint(0, 3))]

    def deep() -> Any:
        value: Any = rng.choice(strings)
        for _ in range(rng.randint(MAX_DEPTH - 4, MAX_DEPTH + 4)):
            value = (
                [rng.choice(strings), value]
                if rng.random() < 0.5
                else {"x": rng.choice(strings), rng.choice(strings): value}
            )
        return value

    for index in range(3000):
        value = body(0) if index % 2 else deep()

        assert _outcome(value) == _reference_outcome(value), value
