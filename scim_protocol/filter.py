"""SCIM filters (RFC 7644 §3.4.2.2): a recursive-descent parser and an in-Python evaluator.

`parse_filter()` turns the text of a `filter` query parameter into a small tree of frozen
dataclasses; `parse_path()` does the same for a PATCH `path` (RFC 7644 §3.5.2), which shares the
grammar. `matches()` evaluates a filter against one value of a multi-valued complex attribute
(the `[...]` part of `emails[type eq "work"]`). Plain Python, no Django.

Precedence, from tightest: grouping `( )`, attribute operators, `not`, `and`, `or`; `and` and
`or` are left-associative. Operators, keywords and `true`/`false`/`null` are case-insensitive.
Attribute paths are kept as written: checking them against a schema is the caller's job.

Two tolerances beyond the RFC grammar, both for what identity providers really send:
- `emails[type eq "work"].value eq "x"` (Microsoft Entra ID) is read as
  `ValuePath("emails", And(<filter>, Comparison("value", "eq", "x")))`; likewise
  `attr[f].sub pr` becomes `ValuePath(attr, And(f, Present(sub)))`.
- A string literal may follow an operator with no space (`value eq"x"`, as in an RFC example).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeAlias

from scim_protocol.errors import InvalidFilter, InvalidPath, ScimError
from scim_protocol.schema import BOOLEAN, Attribute

MAX_FILTER_LENGTH = 10_000  # characters
MAX_FILTER_TERMS = 200  # comparisons and `pr` terms
MAX_FILTER_DEPTH = 50  # nested `( )`, `not ( )` and `[ ]`; keeps the parser far from RecursionError

COMPARISON_OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
STRING_OPERATORS = ("co", "sw", "ew")
ORDERING_OPERATORS = ("gt", "ge", "lt", "le")

LiteralValue: TypeAlias = str | bool | int | float | None


@dataclass(frozen=True)
class Comparison:
    path: str  # as written: "userName", "name.familyName", "urn:…:User:manager.value"
    op: str  # lower-cased: "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"
    value: LiteralValue  # "x" -> str, true/false -> bool, null -> None, 5 -> int, 1.5 -> float


@dataclass(frozen=True)
class Present:
    path: str


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class ValuePath:
    path: str  # the multi-valued attribute, e.g. "emails" or "members" (URN allowed)
    filter: Expr  # evaluated against each value; paths inside are sub-attribute names


Expr: TypeAlias = Comparison | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A parsed PATCH path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`."""

    attribute: str  # "name.givenName", "emails", "urn:…:enterprise:2.0:User:manager"
    filter: Expr | None = None  # the `[...]` part, if any
    sub_attribute: str | None = None  # the `.sub` after `]`, if any


def parse_filter(text: str) -> Expr:
    """Parse a SCIM filter expression.

    Raises InvalidFilter, with a detail that says what is wrong and at which character, for an
    empty filter, a term without an operator, an unknown operator, a missing or wrongly typed
    value, an unterminated string, unbalanced brackets, trailing text, nested value filters, or
    a filter over MAX_FILTER_LENGTH characters, MAX_FILTER_TERMS terms or MAX_FILTER_DEPTH levels.
    """
    parser = _Parser(text, InvalidFilter, "filter")
    if parser.peek().kind == _END:
        raise InvalidFilter("The filter is empty.")
    expr = parser.expression(in_brackets=False)
    parser.expect_end()
    return expr


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH `path` (RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`).

    Only the syntax is checked, not whether the attributes exist. Raises InvalidPath for an
    empty or malformed path, including a malformed filter inside `[...]`.
    """
    parser = _Parser(text, InvalidPath, "path")
    token = parser.next()
    if token.kind != _WORD:
        parser.fail("expected an attribute name", token)
    if parser.peek().kind != "[":
        parser.check_attribute_path(token)
        parser.expect_end()
        return PatchPath(token.text)
    value_filter, closing = parser.value_filter(token)
    sub = parser.sub_attribute_after(closing)
    parser.expect_end()
    return PatchPath(token.text, value_filter, sub.text[1:] if sub else None)


def matches(expr: Expr, item: Mapping[str, Any], attribute: Attribute) -> bool:
    """Whether one value of a multi-valued complex attribute satisfies `expr`.

    `item` is one value, e.g. {"type": "work", "value": "a@b.c", "primary": True}; `attribute`
    is the multi-valued attribute, whose sub-attributes give each path's `case_exact` and `type`.
    Strings compare casefolded unless the sub-attribute is caseExact; booleans compare as
    booleans (the strings "true"/"false" count, in any case); gt/ge/lt/le compare strings
    lexicographically (so ISO dateTimes chronologically) and numbers numerically. A comparison
    with a missing sub-attribute is false, except `ne`, which is true. `eq null` is true, and
    `ne null` false, when the sub-attribute is not present in the `pr` sense.

    Raises InvalidFilter for a path that is not a sub-attribute of `attribute`, for a nested
    value filter, and for gt/ge/lt/le on a boolean.
    """
    check_value_filter(expr, attribute)
    return _evaluate(expr, item, attribute)


# --- Tokens -----------------------------------------------------------------------------------

_WORD, _STRING, _END = "word", "string", "end"

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<punctuation>[()\[\]])
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<word>[^\s()\[\]"]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_NAME = r"(?:(?i:\$ref)|[A-Za-z][A-Za-z0-9_-]*)"
# The URN prefix contains colons and dots ("…:enterprise:2.0:User:"); the attribute name is what
# follows the last colon, which the greedy `.*` and backtracking find.
_URN = r"(?i:urn):.*:"
_NAME_RE = re.compile(_NAME)
_ATTRIBUTE_RE = re.compile(rf"(?:{_URN})?{_NAME}")
_ATTRIBUTE_PATH_RE = re.compile(rf"(?:{_URN})?{_NAME}(?:\.{_NAME})?")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS = ("and", "or", "not")


@dataclass(frozen=True)
class _Token:
    kind: str  # _WORD, _STRING, _END, or the punctuation itself: "(", ")", "[", "]"
    text: str  # as written (a string token keeps its quotes and escapes)
    start: int  # offset in the original text
    value: str = ""  # a string token's decoded value

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def keyword(self) -> str:
        return self.text.lower() if self.kind == _WORD else ""

    def describe(self) -> str:
        if self.kind == _END:
            return "the end"
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"'{text}'"


def _tokenize(text: str, error: type[ScimError], noun: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            # Only a double quote with no closing quote matches none of the alternatives.
            raise error(
                f"Invalid {noun}: the string starting at character {position + 1} is not "
                'terminated (a closing " is missing).'
            )
        kind = match.lastgroup
        lexeme = match.group()
        if kind == "punctuation":
            tokens.append(_Token(lexeme, lexeme, position))
        elif kind == _STRING:
            tokens.append(
                _Token(_STRING, lexeme, position, _decode_string(lexeme, position, error))
            )
        elif kind == _WORD:
            tokens.append(_Token(_WORD, lexeme, position))
        position = match.end()
    tokens.append(_Token(_END, "", len(text)))
    return tokens


def _decode_string(lexeme: str, position: int, error: type[ScimError]) -> str:
    # RFC 7644 says string literals are JSON strings, so decode exactly as JSON does.
    try:
        value: str = json.loads(lexeme)
    except json.JSONDecodeError as exc:
        raise error(f"Invalid string literal at character {position + 1}: {exc.msg}.") from None
    return value


def _is_literal_word(token: _Token) -> bool:
    return token.kind == _WORD and (
        token.keyword in ("true", "false", "null") or _NUMBER_RE.fullmatch(token.text) is not None
    )


# --- Parser -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; one method per grammar rule.

    expression := and-expr ("or" and-expr)*
    and-expr   := factor ("and" factor)*
    factor     := "not" "(" expression ")" | "(" expression ")" | term
    term       := path "pr" | path op literal | path "[" expression "]" [".sub" ("pr" | op literal)]
    """

    def __init__(self, text: str, error: type[ScimError], noun: str) -> None:
        self.error = error
        self.noun = noun
        if len(text) > MAX_FILTER_LENGTH:
            raise error(
                f"The {noun} is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}."
            )
        self.tokens = _tokenize(text, error, noun)
        self.index = 0
        self.depth = 0
        self.terms = 0

    # Token access

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != _END:
            self.index += 1
        return token

    def fail(self, message: str, token: _Token) -> NoReturn:
        where = (
            f"at the end of the {self.noun}"
            if token.kind == _END
            else f"at character {token.start + 1}"
        )
        raise self.error(f"Invalid {self.noun}: {message} ({where}).")

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind == _END:
            return
        if token.kind in (")", "]"):
            self.fail(f"'{token.text}' has no matching opening bracket", token)
        self.fail(
            f"expected 'and', 'or' or the end of the {self.noun}, found {token.describe()}", token
        )

    # Grammar rules

    def expression(self, *, in_brackets: bool) -> Expr:
        left = self.and_expression(in_brackets=in_brackets)
        while self.peek().keyword == "or":
            self.next()
            left = Or(left, self.and_expression(in_brackets=in_brackets))
        return left

    def and_expression(self, *, in_brackets: bool) -> Expr:
        left = self.factor(in_brackets=in_brackets)
        while self.peek().keyword == "and":
            self.next()
            left = And(left, self.factor(in_brackets=in_brackets))
        return left

    def factor(self, *, in_brackets: bool) -> Expr:
        token = self.peek()
        if token.keyword == "not":
            self.next()
            if self.peek().kind != "(":
                self.fail(
                    f"'not' must be followed by '(', found {self.peek().describe()}", self.peek()
                )
            return Not(self.group(in_brackets=in_brackets))
        if token.kind == "(":
            return self.group(in_brackets=in_brackets)
        return self.term(in_brackets=in_brackets)

    def group(self, *, in_brackets: bool) -> Expr:
        opening = self.next()
        self.enter(opening)
        inner = self.expression(in_brackets=in_brackets)
        self.close(opening)
        self.depth -= 1
        return inner

    def term(self, *, in_brackets: bool) -> Expr:
        token = self.next()
        if token.kind != _WORD or token.keyword in _KEYWORDS:
            self.fail(f"expected an attribute name, found {token.describe()}", token)
        if self.peek().kind == "[":
            if in_brackets:
                self.fail("value filters cannot be nested", self.peek())
            value_filter, closing = self.value_filter(token)
            sub = self.sub_attribute_after(closing)
            if sub is not None:
                value_filter = And(value_filter, self.comparison(sub.text[1:], sub))
            return ValuePath(token.text, value_filter)
        self.check_attribute_path(token, in_brackets=in_brackets)
        return self.comparison(token.text, token)

    def value_filter(self, attribute: _Token) -> tuple[Expr, _Token]:
        """Parse `[ expression ]` after `attribute`; return the filter and the closing bracket."""
        if _ATTRIBUTE_RE.fullmatch(attribute.text) is None:
            self.fail(
                f"{attribute.describe()} cannot take a value filter '[...]'; name a multi-valued "
                "attribute such as 'emails'",
                attribute,
            )
        opening = self.next()
        self.enter(opening)
        if self.peek().kind == "]":
            self.fail("the value filter '[]' is empty", self.peek())
        inner = self.expression(in_brackets=True)
        closing = self.close(opening)
        self.depth -= 1
        return inner, closing

    def sub_attribute_after(self, closing: _Token) -> _Token | None:
        """The `.sub` written directly after `]`, if any."""
        token = self.peek()
        if token.kind != _WORD or not token.text.startswith(".") or token.start != closing.end:
            return None
        if _NAME_RE.fullmatch(token.text[1:]) is None:
            self.fail(f"{token.describe()} is not a valid sub-attribute", token)
        return self.next()

    def comparison(self, path: str, path_token: _Token) -> Expr:
        op_token = self.next()
        if op_token.kind == _END:
            self.fail(
                f"{path_token.describe()} must be followed by an operator "
                "(eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
                op_token,
            )
        op = op_token.keyword
        if op != "pr" and op not in COMPARISON_OPERATORS:
            self.fail(
                f"unknown operator {op_token.describe()} after {path_token.describe()}; "
                "expected eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                op_token,
            )
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            self.fail(f"more than {MAX_FILTER_TERMS} comparisons", op_token)
        if op == "pr":
            following = self.peek()
            if following.kind == _STRING or _is_literal_word(following):
                self.fail("'pr' takes no value", following)
            return Present(path)
        value = self.literal(op_token)
        if op in STRING_OPERATORS and not isinstance(value, str):
            self.fail(
                f"'{op}' needs a string value, found {self._previous().describe()}",
                self._previous(),
            )
        if op in ORDERING_OPERATORS and (value is None or isinstance(value, bool)):
            self.fail(f"'{op}' cannot compare with {self._previous().describe()}", self._previous())
        return Comparison(path, op, value)

    def literal(self, op_token: _Token) -> LiteralValue:
        token = self.next()
        if token.kind == _STRING:
            return token.value
        if token.kind == _END:
            self.fail(f"a value is missing after '{op_token.text}'", token)
        if token.keyword == "true":
            return True
        if token.keyword == "false":
            return False
        if token.keyword == "null":
            return None
        if token.kind == _WORD and _NUMBER_RE.fullmatch(token.text):
            number: int | float = json.loads(token.text)
            return number
        self.fail(
            f"expected a value after '{op_token.text}' (a \"quoted string\", a number, true, "
            f"false or null), found {token.describe()}",
            token,
        )

    # Checks

    def check_attribute_path(self, token: _Token, *, in_brackets: bool = False) -> None:
        if in_brackets:
            if _NAME_RE.fullmatch(token.text) is None:
                self.fail(
                    f"inside a value filter, name a sub-attribute such as 'value', "
                    f"not {token.describe()}",
                    token,
                )
        elif _ATTRIBUTE_PATH_RE.fullmatch(token.text) is None:
            self.fail(f"{token.describe()} is not a valid attribute path", token)

    def enter(self, opening: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            self.fail(f"brackets are nested more than {MAX_FILTER_DEPTH} levels deep", opening)

    def close(self, opening: _Token) -> _Token:
        wanted = ")" if opening.kind == "(" else "]"
        token = self.peek()
        if token.kind == wanted:
            return self.next()
        if token.kind == _END:
            self.fail(f"'{opening.text}' at character {opening.start + 1} is never closed", token)
        self.fail(f"expected 'and', 'or' or '{wanted}', found {token.describe()}", token)

    def _previous(self) -> _Token:
        return self.tokens[self.index - 1]


# --- Evaluation -------------------------------------------------------------------------------


def check_value_filter(expr: Expr, attribute: Attribute) -> None:
    """Check that every path in `expr` names a sub-attribute of `attribute` (any case).

    Raises InvalidFilter for an unknown sub-attribute or a nested value filter.
    """
    pending: list[Expr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, And | Or):
            pending.extend((node.left, node.right))
        elif isinstance(node, Not):
            pending.append(node.expr)
        elif isinstance(node, ValuePath):
            raise InvalidFilter(f"Value filters cannot be nested (in '{attribute.name}[...]').")
        elif attribute.sub(node.path) is None:
            raise InvalidFilter(f"'{node.path}' is not a sub-attribute of '{attribute.name}'.")


def _evaluate(expr: Expr, item: Mapping[str, Any], attribute: Attribute) -> bool:
    if isinstance(expr, And):
        return _evaluate(expr.left, item, attribute) and _evaluate(expr.right, item, attribute)
    if isinstance(expr, Or):
        return _evaluate(expr.left, item, attribute) or _evaluate(expr.right, item, attribute)
    if isinstance(expr, Not):
        return not _evaluate(expr.expr, item, attribute)
    if isinstance(expr, ValuePath):
        raise InvalidFilter(f"Value filters cannot be nested (in '{attribute.name}[...]').")
    sub = attribute.sub(expr.path)
    if sub is None:
        raise InvalidFilter(f"'{expr.path}' is not a sub-attribute of '{attribute.name}'.")
    stored = _lookup(item, sub.name)
    if isinstance(expr, Present):
        return is_present(stored)
    return _compare(expr.op, stored, expr.value, sub)


def is_present(value: Any) -> bool:
    """RFC 7644 `pr`: not missing, not null, and not an empty string, list or object."""
    if value is None:
        return False
    return not (isinstance(value, str | list | dict) and len(value) == 0)


def _lookup(item: Mapping[str, Any], name: str) -> Any:
    if name in item:
        return item[name]
    wanted = name.lower()
    return next(
        (value for key, value in item.items() if isinstance(key, str) and key.lower() == wanted),
        None,
    )


def _compare(op: str, stored: Any, literal: LiteralValue, sub: Attribute) -> bool:
    if literal is None:  # `eq null` asks "absent?", `ne null` asks "present?"
        if op == "eq":
            return not is_present(stored)
        return op == "ne" and is_present(stored)
    if stored is None:
        return op == "ne"
    pair = _comparable(op, stored, literal, sub)
    if pair is None:  # values of different types are never equal
        return op == "ne"
    left, right = pair
    if op in STRING_OPERATORS:
        return isinstance(left, str) and isinstance(right, str) and _STRING_TESTS[op](left, right)
    return bool(_COMPARISONS[op](left, right))


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "co": lambda left, right: right in left,
    "sw": str.startswith,
    "ew": str.endswith,
}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _comparable(
    op: str, stored: Any, literal: LiteralValue, sub: Attribute
) -> tuple[Any, Any] | None:
    if sub.type == BOOLEAN or isinstance(literal, bool):
        left, right = _as_bool(stored), _as_bool(literal)
        if left is None or right is None:
            return None
        if op in ORDERING_OPERATORS:
            raise InvalidFilter(f"'{sub.name}' is a boolean and cannot be compared with '{op}'.")
        return left, right
    if isinstance(stored, str) and isinstance(literal, str):
        if sub.case_exact:
            return stored, literal
        return stored.casefold(), literal.casefold()
    if _is_number(stored) and _is_number(literal):
        return stored, literal
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    # Some clients (Entra's validator) send booleans as the strings "True" / "False".
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
