#!/bin/sh
# Create .venv beside this repository and install derivchain into it, with optional extras:
#   sh scripts/setup.sh          # the tool
#   sh scripts/setup.sh test     # the tool and what the tests need
set -eu
cd "$(dirname "$0")/.."
if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    # Debian ships venv separately from python3.
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
spec="."
[ $# -gt 0 ] && spec=".[$(echo "$*" | tr ' ' ',')]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
# An editable install is not byte-compiled by pip; where PYTHONDONTWRITEBYTECODE is set, every
# start would compile derivchain again (about 40 ms of a 1 s command).
.venv/bin/python -m compileall -q derivchain
.venv/bin/python -c "import derivchain" # fail here, not later, if the install did not work
