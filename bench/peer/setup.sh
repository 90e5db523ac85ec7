#!/usr/bin/env bash
# Create bench/peer/.venv (django-scim2's own virtualenv, kept apart from Headcount's) with the
# pinned requirements, then migrate and check the peer database.
#   PYTHON=/path/to/python3.11 bench/peer/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    # The interpreter Headcount's venv was made from, so both servers run the same Python.
    main_python="$here/../../.venv/bin/python"
    if [[ -x "$main_python" ]]; then
        python="$("$main_python" -c 'import sys; print(sys._base_executable)')"
    else
        python="python3.11"
    fi
fi
if [[ ! -x "$here/.venv/bin/python" ]]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$here/.venv/bin/python" "$here/peer.py" setup
