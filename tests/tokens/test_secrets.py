"""Token format: recognisable prefix, high-entropy body, checksum; stored as SHA-256."""

import pytest

from tokens import secrets


def test_bearer_tokens_have_prefix_length_and_valid_checksum() -> None:
    token = secrets.generate_secret(secrets.BEARER_PREFIX)

    assert token.startswith("hct_")
    assert len(token) == 4 + 32 + 6
    assert secrets.is_well_formed(token, secrets.BEARER_PREFIX)
    assert not secrets.is_well_formed(token, secrets.BASIC_SECRET_PREFIX)


def test_tokens_are_distinct() -> None:
    tokens = {secrets.generate_secret(secrets.BEARER_PREFIX) for _ in range(1000)}

    assert len(tokens) == 1000


@pytest.mark.parametrize("position", [4, 20, 35, 36, 41])
def test_one_changed_character_breaks_the_checksum(position: int) -> None:
    token = secrets.generate_secret(secrets.BEARER_PREFIX)
    replacement = "A" if token[position] != "A" else "B"
    typo = token[:position] + replacement + token[position + 1 :]

    assert not secrets.is_well_formed(typo, secrets.BEARER_PREFIX)


@pytest.mark.parametrize(
    "candidate", ["", "hct_", "non-token", "Bearer hct_x", "hct_" + "a" * 38, "hct_" + "é" * 38]
)
def test_garbage_is_not_well_formed(candidate: str) -> None:
    assert not secrets.is_well_formed(candidate, secrets.BEARER_PREFIX)


@pytest.mark.parametrize("character", ["٣", "é", "ǅ", "_", " "])
def test_a_body_outside_ascii_letters_and_digits_is_not_well_formed(character: str) -> None:
    # Other scripts' digits and letters count as alphanumeric in Python; never in a token,
    # and never an error (the checksum reads the body as ASCII).
    body = "a" * 31 + character

    assert not secrets.is_well_formed(f"hct_{body}ABCDEF", secrets.BEARER_PREFIX)


def test_hash_is_sha256_hex_and_matches_only_its_secret() -> None:
    token = secrets.generate_secret(secrets.BEARER_PREFIX)
    other = secrets.generate_secret(secrets.BEARER_PREFIX)
    stored = secrets.hash_secret(token)

    assert len(stored) == 64 and token not in stored
    assert secrets.hashes_match(token, stored)
    assert not secrets.hashes_match(other, stored)


def test_display_prefix_shows_only_the_start() -> None:
    token = secrets.generate_secret(secrets.BEARER_PREFIX)

    assert secrets.display_prefix(token, secrets.BEARER_PREFIX) == token[:12]


def test_basic_usernames_are_readable_and_random() -> None:
    names = {secrets.generate_basic_username() for _ in range(100)}

    assert len(names) == 100
    assert all(name.startswith("scim-") and name.islower() for name in names)


@pytest.mark.parametrize("character", ["é", "٣", "\x00"])
def test_a_checksum_outside_ascii_is_not_well_formed_and_never_an_error(character: str) -> None:
    # The checksum is compared in constant time, which refuses (raises on) non-ASCII text:
    # such a token must be refused as malformed before that.
    token = f"hct_{'a' * 32}ABCDE{character}"

    assert not secrets.is_well_formed(token, secrets.BEARER_PREFIX)
    assert not secrets.has_shape(token, secrets.BEARER_PREFIX)
