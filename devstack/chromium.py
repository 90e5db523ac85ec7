"""The Chromium the browser tests drive: Debian's package, never a downloaded browser.

HEADCOUNT_CHROMIUM names another binary; when it is set, only that one is used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

INSTALL_HINT = (
    "Chromium is needed for the browser tests: `sudo apt-get install chromium` (Debian, Ubuntu)"
    " or set HEADCOUNT_CHROMIUM=/path/to/chromium"
)


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when there is none."""
    configured = os.environ.get("HEADCOUNT_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) and Path(configured).is_file() else None
    return shutil.which("chromium")


def can_install() -> bool:
    """Whether `ensure_chromium` can install Debian's package here (root and apt-get)."""
    return (
        not os.environ.get("HEADCOUNT_CHROMIUM")
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
    )


def ensure_chromium() -> str | None:
    """The Chromium binary, installing Debian's `chromium` with apt-get first when it is
    missing and we can (root); None (after printing what to install) when there is none."""
    found = chromium_path()
    if found is None and can_install():
        print("· Installing Debian's chromium for the browser tests (apt-get) …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)  # noqa: S607
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],  # noqa: S607 - apt-get from PATH
            env=env,
            check=False,
        )
        found = chromium_path()
    if found is None:
        print(INSTALL_HINT, file=sys.stderr)
    return found
