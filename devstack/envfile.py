"""`.env`-style files (KEY=VALUE lines): read into the environment without overriding what is
set, and `.data/dev.env`, where `make run` leaves the servers it resolved for a second terminal."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FALSY = {"0", "false", "no", "off"}


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of `path` ({} when it does not exist)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def load_env_file(path: Path) -> None:
    """Set the variables of `path` that the environment does not set already."""
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)


def dev_env_path() -> Path:
    """Where `make run` writes the URLs of the servers it uses (HEADCOUNT_DATA_DIR/dev.env)."""
    return Path(os.environ.get("HEADCOUNT_DATA_DIR") or ROOT / ".data") / "dev.env"


def write_dev_env(values: dict[str, str]) -> Path:
    """Write `values` (DEBUG=1 included) to dev.env for `manage.py` in another terminal."""
    path = dev_env_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by `make run` while it runs; manage.py reads it in development only."]
    lines += [f"{key}={value}" for key, value in {"DEBUG": "1", **values}.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def load_dev_env() -> None:
    """Development only: read dev.env (the servers of a running `make run`, DEBUG=1) without
    overriding the environment. Skipped when DEBUG is set off, as production sets it (the
    Docker image never holds .data/ either), so production keeps requiring SECRET_KEY."""
    if os.environ.get("DEBUG", "").strip().lower() in FALSY:
        return
    load_env_file(dev_env_path())
