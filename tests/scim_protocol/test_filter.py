"""The SCIM filter parser and evaluator (RFC 7644 §3.4.2.2), with what Okta and Entra send."""

from __future__ import annotations

import pytest

from scim_protocol.errors import InvalidFilter, InvalidPath
from scim_protocol.filter import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_TERMS,
    And,
    Comparison,
    Expr,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    matches,
    parse_filter,
    parse_path,
)
from scim_protocol.schema import GROUP_SCHEMA, USER_SCHEMA, Attribute

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_USER_NAME = f"{CORE_USER}:userName"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _attribute(name: str) -> Attribute:
    found = USER_SCHEMA.attribute(name) or GROUP_SCHEMA.attribute(name)
    assert found is not None
    return found


EMAILS = _attribute("emails")
MEMBERS = _attribute("members")
# A made-up multi-valued attribute with the sub-attribute types the user schema lacks.
THINGS = Attribute(
    "things",
    type="complex",
    multi_valued=True,
    sub_attributes=(
        Attribute("value", case_exact=True),
        Attribute("label"),
        Attribute("since", type="dateTime"),
        Attribute("rank", type="integer"),
        Attribute("weight", type="decimal"),
        Attribute("primary", type="boolean"),
    ),
)


# --- Every example filter of RFC 7644 §3.4.2.2 ------------------------------------------------

RFC_EXAMPLES: list[tuple[str, Expr]] = [
    ('userName eq "bjensen"', Comparison("userName", "eq", "bjensen")),
    ('name.familyName co "O\'Malley"', Comparison("name.familyName", "co", "O'Malley")),
    ('userName sw "J"', Comparison("userName", "sw", "J")),
    (f'{CORE_USER_NAME} sw "J"', Comparison(CORE_USER_NAME, "sw", "J")),
    ("title pr", Present("title")),
    (
        'meta.lastModified gt "2011-05-13T04:42:34Z"',
        Comparison("meta.lastModified", "gt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified ge "2011-05-13T04:42:34Z"',
        Comparison("meta.lastModified", "ge", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified lt "2011-05-13T04:42:34Z"',
        Comparison("meta.lastModified", "lt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified le "2011-05-13T04:42:34Z"',
        Comparison("meta.lastModified", "le", "2011-05-13T04:42:34Z"),
    ),
    (
        'title pr and userType eq "Employee"',
        And(Present("title"), Comparison("userType", "eq", "Employee")),
    ),
    (
        'title pr or userType eq "Intern"',
        Or(Present("title"), Comparison("userType", "eq", "Intern")),
    ),
    (
        f'schemas eq "{ENTERPRISE}"',
        Comparison("schemas", "eq", ENTERPRISE),
    ),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            Comparison("userType", "eq", "Employee"),
            Or(
                Comparison("emails", "co", "example.com"),
                Comparison("emails.value", "co", "example.org"),
            ),
        ),
    ),
    (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(
            Comparison("userType", "ne", "Employee"),
            Not(
                Or(
                    Comparison("emails", "co", "example.com"),
                    Comparison("emails.value", "co", "example.org"),
                )
            ),
        ),
    ),
    (
        'userType eq "Employee" and (emails.type eq "work")',
        And(Comparison("userType", "eq", "Employee"), Comparison("emails.type", "eq", "work")),
    ),
    (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(
            Comparison("userType", "eq", "Employee"),
            ValuePath(
                "emails",
                And(Comparison("type", "eq", "work"), Comparison("value", "co", "@example.com")),
            ),
        ),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            ValuePath(
                "emails",
                And(Comparison("type", "eq", "work"), Comparison("value", "co", "@example.com")),
            ),
            ValuePath(
                "ims",
                And(Comparison("type", "eq", "xmpp"), Comparison("value", "co", "@foo.com")),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), RFC_EXAMPLES, ids=[t for t, _ in RFC_EXAMPLES])
def test_rfc_example_filters_parse(text: str, expected: Expr) -> None:
    result = parse_filter(text)

    assert result == expected


def test_rfc_examples_written_over_two_lines_parse_the_same() -> None:
    text = 'userType eq "Employee" and emails[type eq "work" and\n  value co "@example.com"]'

    result = parse_filter(text)

    assert result == RFC_EXAMPLES[15][1]


# --- Precedence and grouping ------------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    result = parse_filter("a pr or b pr and c pr")

    assert result == Or(Present("a"), And(Present("b"), Present("c")))


def test_and_binds_tighter_than_or_on_the_left_too() -> None:
    result = parse_filter("a pr and b pr or c pr")

    assert result == Or(And(Present("a"), Present("b")), Present("c"))


def test_and_and_or_are_left_associative() -> None:
    result = parse_filter("a pr or b pr or c pr and d pr and e pr")

    assert result == Or(
        Or(Present("a"), Present("b")), And(And(Present("c"), Present("d")), Present("e"))
    )


def test_parentheses_override_precedence() -> None:
    result = parse_filter("(a pr or b pr) and c pr")

    assert result == And(Or(Present("a"), Present("b")), Present("c"))


def test_not_binds_tighter_than_and() -> None:
    result = parse_filter("not (a pr) and b pr")

    assert result == And(Not(Present("a")), Present("b"))


def test_not_without_a_space_before_the_parenthesis() -> None:
    result = parse_filter('not(userName eq "x")')

    assert result == Not(Comparison("userName", "eq", "x"))


def test_redundant_parentheses_disappear() -> None:
    result = parse_filter('((userName eq "x"))')

    assert result == Comparison("userName", "eq", "x")


# --- Case, literals, whitespace ----------------------------------------------------------------


def test_operators_and_keywords_are_case_insensitive() -> None:
    result = parse_filter('userName Eq "john" AND NOT (title PR) Or active EQ TRUE')

    assert result == Or(
        And(Comparison("userName", "eq", "john"), Not(Present("title"))),
        Comparison("active", "eq", True),
    )


def test_attribute_paths_keep_the_case_they_were_written_in() -> None:
    result = parse_filter('Username eq "john"')

    assert result == Comparison("Username", "eq", "john")


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ('"true"', "true"),
        ("true", True),
        ("False", False),
        ("NULL", None),
        ("5", 5),
        ("-12", -12),
        ("1.5", 1.5),
        ("2e3", 2000.0),
        ('""', ""),
    ],
)
def test_literals_keep_their_json_type(literal: str, expected: object) -> None:
    result = parse_filter(f"x eq {literal}")

    assert isinstance(result, Comparison)
    assert result.value == expected
    assert type(result.value) is type(expected)


def test_string_escapes_decode_like_json() -> None:
    result = parse_filter(r'displayName eq "say \"hi\" \\ \/ \n \u00e9\ud83d\ude00"')

    assert result == Comparison("displayName", "eq", 'say "hi" \\ / \n é😀')


def test_brackets_and_keywords_inside_strings_are_just_text() -> None:
    result = parse_filter('displayName eq "a ] or (b [c] and) \\"d"')

    assert result == Comparison("displayName", "eq", 'a ] or (b [c] and) "d')


def test_extra_whitespace_and_tabs_are_ignored() -> None:
    result = parse_filter('  \tuserName   eq\t\t"x"   and  title  pr  ')

    assert result == And(Comparison("userName", "eq", "x"), Present("title"))


def test_a_string_may_follow_the_operator_without_a_space() -> None:
    # As in RFC 7644 §3.5.2.2's example `members[value eq\"2819c223…\"]`.
    result = parse_filter('members[value eq"2819c223-7f76-453a-919d-413861904646"]')

    assert result == ValuePath(
        "members", Comparison("value", "eq", "2819c223-7f76-453a-919d-413861904646")
    )


# --- Paths ------------------------------------------------------------------------------------


def test_enterprise_urn_path_with_a_version_and_a_sub_attribute() -> None:
    result = parse_filter(f'{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"')

    assert result == Comparison(
        f"{ENTERPRISE}:manager.value", "eq", "26118915-6090-4610-87e4-49d8ca9f808d"
    )


def test_enterprise_urn_path_to_a_simple_attribute() -> None:
    result = parse_filter(f'{ENTERPRISE}:employeeNumber eq "701984"')

    assert result == Comparison(f"{ENTERPRISE}:employeeNumber", "eq", "701984")


def test_dollar_ref_is_a_valid_sub_attribute() -> None:
    result = parse_filter('members[$ref eq "https://example.com/v2/Users/1"]')

    assert result == ValuePath(
        "members", Comparison("$ref", "eq", "https://example.com/v2/Users/1")
    )


def test_value_path_with_urn_prefix() -> None:
    result = parse_filter(f'{CORE_USER}:emails[type eq "work"]')

    assert result == ValuePath(f"{CORE_USER}:emails", Comparison("type", "eq", "work"))


def test_entra_work_email_filter_becomes_a_value_path() -> None:
    result = parse_filter('emails[type eq "work"].value eq "bjensen@example.com"')

    assert result == ValuePath(
        "emails",
        And(Comparison("type", "eq", "work"), Comparison("value", "eq", "bjensen@example.com")),
    )


def test_value_path_with_sub_attribute_and_pr() -> None:
    result = parse_filter('emails[type eq "work"].value pr')

    assert result == ValuePath("emails", And(Comparison("type", "eq", "work"), Present("value")))


def test_value_path_combined_with_other_terms() -> None:
    result = parse_filter(
        'userName eq "x" or emails[type eq "work"].value eq "y" and active eq true'
    )

    assert result == Or(
        Comparison("userName", "eq", "x"),
        And(
            ValuePath(
                "emails", And(Comparison("type", "eq", "work"), Comparison("value", "eq", "y"))
            ),
            Comparison("active", "eq", True),
        ),
    )


def test_value_path_with_grouping_and_not_inside() -> None:
    result = parse_filter('emails[not (type eq "home") and (value ew ".org" or primary eq true)]')

    assert result == ValuePath(
        "emails",
        And(
            Not(Comparison("type", "eq", "home")),
            Or(Comparison("value", "ew", ".org"), Comparison("primary", "eq", True)),
        ),
    )


# --- Errors -----------------------------------------------------------------------------------

INVALID = [
    pytest.param("", id="empty"),
    pytest.param("   \t ", id="only whitespace"),
    pytest.param("RUNSCOPE300HFLUAKLAB151", id="okta SPEC bare word"),
    pytest.param('userName "x"', id="no operator"),
    pytest.param('userName is "x"', id="unknown operator"),
    pytest.param("userName eq", id="missing value"),
    pytest.param("userName eq and title pr", id="keyword as value"),
    pytest.param("userName eq bjensen", id="unquoted string"),
    pytest.param('userName eq "bjensen', id="unterminated string"),
    pytest.param('userName eq "bjensen\\"', id="string ending in an escaped quote"),
    pytest.param('userName eq "\\x"', id="invalid escape"),
    pytest.param('(userName eq "x"', id="unclosed parenthesis"),
    pytest.param('userName eq "x")', id="extra closing parenthesis"),
    pytest.param('emails[type eq "work"', id="unclosed bracket"),
    pytest.param('emails type eq "work"]', id="extra closing bracket"),
    pytest.param('emails[type eq "work")', id="bracket closed by parenthesis"),
    pytest.param('userName eq "x" title pr', id="trailing term"),
    pytest.param('userName eq "x" and', id="dangling and"),
    pytest.param('or userName eq "x"', id="leading or"),
    pytest.param("()", id="empty parentheses"),
    pytest.param("emails[]", id="empty value filter"),
    pytest.param("a[b[c eq 1]]", id="nested value path"),
    pytest.param('emails[type eq "work"].value', id="value path sub without operator"),
    pytest.param('title pr "x"', id="pr with a string"),
    pytest.param("title pr true", id="pr with a literal"),
    pytest.param("userName co 5", id="co with a number"),
    pytest.param("userName sw true", id="sw with a boolean"),
    pytest.param("userName ew null", id="ew with null"),
    pytest.param("active gt true", id="gt with a boolean"),
    pytest.param("userName lt null", id="lt with null"),
    pytest.param('not userName eq "x"', id="not without parentheses"),
    pytest.param('name.familyName.x eq "x"', id="too many dots"),
    pytest.param('foo:bar eq "x"', id="colon without urn"),
    pytest.param(f'{ENTERPRISE}: eq "x"', id="urn without attribute"),
    pytest.param('1abc eq "x"', id="attribute starting with a digit"),
    pytest.param('name.familyName[value eq "x"]', id="value path on a sub-attribute"),
    pytest.param('emails[emails.type eq "work"]', id="dotted path inside a value path"),
    pytest.param('emails[type eq "work"] .value eq "x"', id="detached sub-attribute"),
    pytest.param('emails[type eq "work"].x.y eq "x"', id="bad sub-attribute after bracket"),
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_filters_raise_invalid_filter_with_a_detail(text: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    assert raised.value.detail
    assert raised.value.scim_type == "invalidFilter"


def test_okta_bare_word_detail_says_an_operator_is_missing() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter("RUNSCOPE300HFLUAKLAB151")

    assert "RUNSCOPE300HFLUAKLAB151" in raised.value.detail
    assert "operator" in raised.value.detail


def test_error_detail_says_where() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter('userName xx "a"')

    assert "'xx'" in raised.value.detail
    assert "character 10" in raised.value.detail


def test_unterminated_string_detail_says_where_it_starts() -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter('userName eq "abc')

    assert "character 13" in raised.value.detail


# --- Limits -----------------------------------------------------------------------------------


def test_filter_at_the_length_limit_is_accepted() -> None:
    text = 'userName eq "' + "x" * (MAX_FILTER_LENGTH - 14) + '"'

    result = parse_filter(text)

    assert len(text) == MAX_FILTER_LENGTH
    assert isinstance(result, Comparison)


def test_filter_over_the_length_limit_is_rejected() -> None:
    text = 'userName eq "' + "x" * (MAX_FILTER_LENGTH - 13) + '"'

    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    assert str(MAX_FILTER_LENGTH) in raised.value.detail


def test_filter_with_the_maximum_number_of_terms_is_accepted() -> None:
    text = " or ".join(f'userName eq "{n}"' for n in range(MAX_FILTER_TERMS))

    result = parse_filter(text)

    assert isinstance(result, Or)


def test_filter_with_too_many_terms_is_rejected() -> None:
    text = " or ".join(f"a{n} pr" for n in range(MAX_FILTER_TERMS + 1))

    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    assert str(MAX_FILTER_TERMS) in raised.value.detail


def test_ten_thousand_terms_are_refused_before_parsing() -> None:
    text = " or ".join(["a pr"] * 10_000)

    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    assert f"the limit is {MAX_FILTER_LENGTH}" in raised.value.detail


def test_terms_inside_value_paths_count_too() -> None:
    inner = " or ".join(f'type eq "{n}"' for n in range(MAX_FILTER_TERMS))
    text = f'emails[{inner}].value eq "x"'

    with pytest.raises(InvalidFilter):
        parse_filter(text)


def test_nesting_at_the_depth_limit_is_accepted() -> None:
    text = "(" * MAX_FILTER_DEPTH + "a pr" + ")" * MAX_FILTER_DEPTH

    result = parse_filter(text)

    assert result == Present("a")


def test_nesting_over_the_depth_limit_is_rejected() -> None:
    text = "(" * (MAX_FILTER_DEPTH + 1) + "a pr" + ")" * (MAX_FILTER_DEPTH + 1)

    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    assert "nested" in raised.value.detail


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("(" * 10_000 + "a pr" + ")" * 10_000, id="10000 deep, over the length"),
        pytest.param("(" * 4_990 + "a pr" + ")" * 4_990, id="4990 deep, within the length"),
        pytest.param("(" * 9_999, id="10000 unclosed"),
        pytest.param("not (" * 1_999 + "a pr" + ")" * 1_999, id="nested not"),
    ],
)
def test_deep_nesting_is_invalid_filter_not_recursion_error(text: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)

    # Refused by length before parsing, or at the depth limit: never a walk down every level.
    detail = raised.value.detail
    assert (
        f"the limit is {MAX_FILTER_LENGTH}" in detail
        or f"(at character {MAX_FILTER_DEPTH + 1})" in detail
    )


# --- PATCH paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("members", PatchPath("members")),
        ("name.familyName", PatchPath("name.familyName")),
        (f"{ENTERPRISE}:manager", PatchPath(f"{ENTERPRISE}:manager")),
        (f"{ENTERPRISE}:manager.value", PatchPath(f"{ENTERPRISE}:manager.value")),
        (
            'members[value eq "2819c223"]',
            PatchPath("members", Comparison("value", "eq", "2819c223")),
        ),
        (
            'emails[type eq "work"].value',
            PatchPath("emails", Comparison("type", "eq", "work"), "value"),
        ),
        (
            'addresses[type eq "work"].streetAddress',
            PatchPath("addresses", Comparison("type", "eq", "work"), "streetAddress"),
        ),
    ],
)
def test_patch_paths_parse(text: str, expected: PatchPath) -> None:
    result = parse_path(text)

    assert result == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        'members[value eq "x"',
        'members[value eq "x"]]',
        "members[value xx 1]",
        'members[value eq "x"] extra',
        "name familyName",
        "a.b.c",
        '"userName"',
    ],
)
def test_malformed_patch_paths_raise_invalid_path(text: str) -> None:
    with pytest.raises(InvalidPath) as raised:
        parse_path(text)

    assert raised.value.detail


# --- matches() --------------------------------------------------------------------------------


def test_matches_eq_is_case_insensitive_when_the_sub_attribute_is_not_case_exact() -> None:
    item = {"type": "Work", "value": "BJensen@Example.com"}

    assert matches(parse_filter('type eq "work"'), item, EMAILS)
    assert matches(parse_filter('value eq "bjensen@example.com"'), item, EMAILS)
    assert matches(parse_filter('value co "EXAMPLE"'), item, EMAILS)
    assert matches(parse_filter('value sw "bjen"'), item, EMAILS)
    assert matches(parse_filter('value ew ".COM"'), item, EMAILS)


def test_matches_eq_is_case_sensitive_when_the_sub_attribute_is_case_exact() -> None:
    item = {"value": "AbC"}

    assert matches(parse_filter('value eq "AbC"'), item, THINGS)
    assert not matches(parse_filter('value eq "abc"'), item, THINGS)
    assert not matches(parse_filter('value co "B"'), item, THINGS)
    assert matches(parse_filter('value co "b"'), item, THINGS)
    assert matches(parse_filter('value ne "abc"'), item, THINGS)


def test_matches_sub_attribute_names_case_insensitively() -> None:
    item = {"Type": "work"}

    result = matches(parse_filter('TYPE eq "work"'), item, EMAILS)

    assert result


def test_matches_booleans_including_true_and_false_strings() -> None:
    primary = {"value": "a@b.c", "primary": True}
    entra = {"value": "a@b.c", "primary": "True"}
    not_primary = {"value": "a@b.c", "primary": "false"}

    assert matches(parse_filter("primary eq true"), primary, EMAILS)
    assert matches(parse_filter("primary eq true"), entra, EMAILS)
    assert matches(parse_filter('primary eq "TRUE"'), entra, EMAILS)
    assert not matches(parse_filter("primary eq true"), not_primary, EMAILS)
    assert matches(parse_filter("primary eq false"), not_primary, EMAILS)
    assert matches(parse_filter("primary ne true"), not_primary, EMAILS)


def test_matches_a_boolean_never_equals_a_non_boolean() -> None:
    item = {"primary": "yes"}

    assert not matches(parse_filter("primary eq true"), item, EMAILS)
    assert matches(parse_filter("primary ne true"), item, EMAILS)


def test_matches_pr() -> None:
    def present(item: dict[str, object]) -> bool:
        return matches(parse_filter("display pr"), item, EMAILS)

    assert present({"display": "x"})
    assert not present({})
    assert not present({"display": None})
    assert not present({"display": ""})
    assert not present({"display": []})
    assert not present({"display": {}})
    assert matches(parse_filter("primary pr"), {"primary": False}, EMAILS)


def test_matches_missing_sub_attribute_is_false_except_for_ne() -> None:
    item = {"value": "a@b.c"}

    assert not matches(parse_filter('type eq "work"'), item, EMAILS)
    assert not matches(parse_filter('type co "w"'), item, EMAILS)
    assert not matches(parse_filter('type gt "a"'), item, EMAILS)
    assert matches(parse_filter('type ne "work"'), item, EMAILS)


def test_matches_null() -> None:
    assert matches(parse_filter("type eq null"), {"value": "a"}, EMAILS)
    assert matches(parse_filter("type eq null"), {"type": None}, EMAILS)
    assert not matches(parse_filter("type eq null"), {"type": "work"}, EMAILS)
    assert matches(parse_filter("type ne null"), {"type": "work"}, EMAILS)
    assert not matches(parse_filter("type ne null"), {}, EMAILS)


def test_matches_ordering_on_iso_date_times() -> None:
    item = {"since": "2011-05-13T04:42:34Z"}

    assert matches(parse_filter('since gt "2011-05-13T04:42:33Z"'), item, THINGS)
    assert matches(parse_filter('since ge "2011-05-13T04:42:34Z"'), item, THINGS)
    assert matches(parse_filter('since lt "2012-01-01T00:00:00Z"'), item, THINGS)
    assert matches(parse_filter('since le "2011-05-13T04:42:34Z"'), item, THINGS)
    assert not matches(parse_filter('since gt "2011-05-13T04:42:34Z"'), item, THINGS)
    assert not matches(parse_filter('since lt "2010-12-31T23:59:59Z"'), item, THINGS)


def test_matches_ordering_on_numbers_is_numeric() -> None:
    item = {"rank": 10, "weight": 2.5}

    assert matches(parse_filter("rank gt 9"), item, THINGS)
    assert matches(parse_filter("rank lt 10.5"), item, THINGS)
    assert matches(parse_filter("rank eq 10"), item, THINGS)
    assert matches(parse_filter("weight ge 2.5"), item, THINGS)
    assert not matches(parse_filter("rank gt 10"), item, THINGS)


def test_matches_strings_compare_lexicographically() -> None:
    item = {"label": "beta"}

    assert matches(parse_filter('label gt "alpha"'), item, THINGS)
    assert matches(parse_filter('label lt "GAMMA"'), item, THINGS)  # label is not caseExact


def test_matches_a_number_never_equals_a_string() -> None:
    item = {"rank": 10}

    assert not matches(parse_filter('rank eq "10"'), item, THINGS)
    assert matches(parse_filter('rank ne "10"'), item, THINGS)


def test_matches_logical_operators() -> None:
    item = {"type": "work", "value": "a@acme.com", "primary": True}

    assert matches(parse_filter('type eq "work" and value co "@acme"'), item, EMAILS)
    assert matches(parse_filter('type eq "home" or value co "@acme"'), item, EMAILS)
    assert not matches(parse_filter('type eq "home" or value co "@other"'), item, EMAILS)
    assert matches(parse_filter('not (type eq "home")'), item, EMAILS)


def test_matches_members_by_value() -> None:
    item = {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"}

    result = matches(parse_filter('value eq "2819c223-7f76-453a-919d-413861904646"'), item, MEMBERS)

    assert result


def test_matches_unknown_sub_attribute_raises_invalid_filter() -> None:
    with pytest.raises(InvalidFilter) as raised:
        matches(parse_filter('colour eq "red"'), {"value": "x"}, EMAILS)

    assert "colour" in raised.value.detail


def test_matches_unknown_sub_attribute_raises_even_when_short_circuited() -> None:
    with pytest.raises(InvalidFilter):
        matches(parse_filter('type eq "work" or colour eq "red"'), {"type": "work"}, EMAILS)


def test_matches_nested_value_path_raises_invalid_filter() -> None:
    with pytest.raises(InvalidFilter):
        matches(ValuePath("emails", Present("value")), {"value": "x"}, EMAILS)


def test_matches_ordering_on_a_boolean_raises_invalid_filter() -> None:
    with pytest.raises(InvalidFilter):
        matches(Comparison("primary", "gt", "true"), {"primary": True}, EMAILS)
