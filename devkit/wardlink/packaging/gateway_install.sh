#!/bin/sh
# Wardlink gateway install: the Install step of every Wardlink Greengrass component.
#
# Shipped inside the component's platform archive (wardlink-gateway-linux-<arch>.zip,
# unarchived by Greengrass) next to one wheelhouse per supported CPython (cp311/,
# cp312/), requirements.txt (every distribution pinned by sha256) and BUILD-ID.
# It creates the component's virtualenv from those files alone: no index, no
# network, no pip configuration of the host, hashes required. It is idempotent:
# a second run with the same build and Python returns at once.
#
# Usage: sh install.sh VENV_DIR
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv=${1:?usage: install.sh VENV_DIR}

fail() {
  echo "wardlink install: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || fail "python3 not found; Wardlink needs CPython 3.11 or 3.12"
tag=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])') \
  || fail "python3 does not run"
wheels="$here/$tag"
if [ ! -d "$wheels" ]; then
  shipped=$(cd "$here" && ls -d cp3* 2>/dev/null | tr '\n' ' ')
  fail "this gateway's python3 is $tag; this build carries wheels for: ${shipped:-none}"
fi
[ -f "$here/requirements.txt" ] && [ -f "$here/BUILD-ID" ] || fail "artifact incomplete: $here"
stamp="$venv/.wardlink-build-$(cat "$here/BUILD-ID")-$tag"
if [ -f "$stamp" ]; then
  echo "wardlink install: $venv is up to date"
  exit 0
fi

# Nothing from the host's pip set-up may add a source or change what is installed.
for name in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$name"
done
export PIP_CONFIG_FILE=/dev/null

rm -rf "$venv"
python3 -m venv "$venv" || fail "python3 -m venv failed: install the python3-venv package"
"$venv/bin/python" -m pip install \
  --no-index --find-links "$wheels" --only-binary=:all: --require-hashes \
  --no-cache-dir --disable-pip-version-check --no-input --quiet \
  -r "$here/requirements.txt" || fail "pip could not install from $wheels"
touch "$stamp"
echo "wardlink install: installed $(cat "$here/BUILD-ID") for $tag into $venv"
