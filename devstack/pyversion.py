"""Stop an install on a Python the project does not support, with the fix in one line."""

from __future__ import annotations

import sys

SUPPORTED = ((3, 11), (3, 12), (3, 13))


def main() -> int:
    if sys.version_info[:2] in SUPPORTED:
        return 0
    versions = ", ".join(f"{major}.{minor}" for major, minor in SUPPORTED)
    print(
        f"Python {sys.version.split()[0]} is not supported (use {versions}): "
        f"rm -rf {sys.prefix} && make install PYTHON=/path/to/python3.13",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
