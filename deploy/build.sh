#!/usr/bin/env bash
# Build Klaxon's wheel and install it, with exactly the versions in uv.lock (every file's hash
# checked), into a fresh virtualenv. The Dockerfile's build stage runs this script; the slug
# test (tests/system/test_slug.py) runs it natively, so the two cannot drift apart.
#
#   deploy/build.sh VENV [EXTRA…]     e.g. deploy/build.sh /opt/klaxon
#                                        deploy/build.sh /tmp/k embedded   (adds klaxon dev's servers)
#
# Needs python3 (3.11+, see .python-version) and network access to PyPI (or pip's configured
# indexes). Uses `uv` from PATH or $UV, else installs it into a throwaway virtualenv. Writes
# the wheel to $DIST (default: a temporary folder) and prints its path last.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 VENV [EXTRA...]" >&2
    exit 2
fi
venv=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dist=${DIST:-$work/dist}

uv=${UV:-$(command -v uv || true)}
if [ -z "$uv" ]; then
    "$python" -m venv "$work/tools"
    "$work/tools/bin/pip" install --quiet "uv>=0.9,<1"
    uv=$work/tools/bin/uv
fi

# 1. The wheel: code, templates, migrations and their config; no tests, no benches.
"$uv" build --quiet --wheel --out-dir "$dist" "$src"
wheel=$(ls "$dist"/klaxon-*.whl)

# 2. The locked dependencies, hashes included: uv.lock must match pyproject.toml (--frozen
#    refuses to re-resolve, so a stale lock fails here rather than installing something else).
extras=()
for extra in "$@"; do extras+=(--extra "$extra"); done
"$uv" export --quiet --frozen --no-dev --no-emit-project "${extras[@]}" \
    --directory "$src" -o "$work/requirements.txt"

# 3. A fresh virtualenv: dependencies from the lock, then the wheel itself (not editable).
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --require-hashes -r "$work/requirements.txt"
"$venv/bin/pip" install --quiet --no-deps "$wheel"
"$venv/bin/pip" check >/dev/null
echo "$wheel"
