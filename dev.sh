#!/usr/bin/env bash
# One entry point for developers and CI: sets up .venv on first use, then runs the command.
#   ./dev.sh demo        build the layer, run the orders demo, show the trace views
#   ./dev.sh test        the whole test suite (lint included); --quick for the CI subset
#   ./dev.sh build       build dist/ layer zips only
#   ./dev.sh local ...   the xraylayer-local CLI
#   ./dev.sh bench       build, then benchmark against no tracing and peer tracers (--quick: smoke)
#   ./dev.sh reliability build, then the reliability suite and the long runs (--quick: CI's part)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
venv="$here/.venv"

real_python() {
    # The interpreter's real path: a version-manager shim adds ~80 ms to every start.
    local candidate
    for candidate in "${XRAYLAYER_PYTHON:-}" python3.11 python3.12 python3.13 python3.10 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            "$candidate" -c 'import os, sys; print(os.path.realpath(sys.executable))'
            return 0
        fi
    done
    echo "dev.sh: needs Python >= 3.10 on PATH" >&2
    return 1
}

ensure_venv() {
    local stamp="$venv/.installed" python
    if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
        return 0
    fi
    python="$(real_python)"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e ".[dev]"
    touch "$stamp"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)
        ensure_venv
        ./build.sh
        exec "$venv/bin/xraylayer-local" demo "$@"
        ;;
    test)
        ensure_venv
        "$venv/bin/ruff" check .
        "$venv/bin/ruff" format --check .
        ./build.sh
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    build)
        ensure_venv
        exec ./build.sh "$@"
        ;;
    local)
        ensure_venv
        exec "$venv/bin/xraylayer-local" "$@"
        ;;
    bench)
        ensure_venv
        ./build.sh
        exec "$venv/bin/python" bench/suite.py "$@"
        ;;
    reliability)
        ensure_venv
        ./build.sh
        # Faults one by one, bad input, privacy, differential corpus, the flood, the quick
        # mixed run: each prints its books (-s). Then, unless --quick, the long runs.
        "$venv/bin/python" -m pytest -s -q tests/reliability tests/e2e/test_differential*.py "$@"
        if [[ " $* " != *" --quick "* ]]; then
            "$venv/bin/python" bench/flood.py --json build/reliability/flood.json
            "$venv/bin/python" bench/reliability.py --json build/reliability/mixed.json
        fi
        ;;
    *)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
