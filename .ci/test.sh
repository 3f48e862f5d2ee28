#!/usr/bin/env bash
# The whole test suite, from a fresh machine: a virtual environment, the package with its test
# dependencies, a throwaway PostgreSQL server, then ruff, mypy and pytest.
#
#   bash .ci/test.sh [pytest arguments]
#
# DUNNING_RULES_VENV picks the virtual environment's folder (default .venv). The tests read their
# data from tests/fixtures only. The PostgreSQL server is this checkout's own (.ci/postgres.sh,
# which installs PostgreSQL with apt-get when it is missing), on the first free port from 55432.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${DUNNING_RULES_VENV:-.venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[test]"

# Headless Chromium renders replay's HTML report in tests/replay/test_html.py.
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2 \
        || { $sudo apt-get update -qq >&2 \
            && $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2; }
fi

pg_url=$(bash .ci/postgres.sh start)
trap 'bash .ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT
export DUNNING_RULES_TEST_POSTGRES="$pg_url"
echo "PostgreSQL for the tests: $pg_url"

echo "== ruff"
"$venv/bin/ruff" check dunning_rules tests bench
"$venv/bin/ruff" format --check dunning_rules tests bench
echo "== mypy"
"$venv/bin/mypy"
echo "== pytest"
"$venv/bin/pytest" "$@"
