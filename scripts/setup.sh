#!/bin/sh
# Create .venv beside this repository and install derivchain into it:
#   sh scripts/setup.sh          # the tool (a regular install)
#   sh scripts/setup.sh test     # editable, with what the tests need (any extras may be named)
#   sh scripts/setup.sh test cross-check latex browser   # all the tests: torch, LaTeX and Chromium from apt
set -eu
cd "$(dirname "$0")/.."
if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    # Debian ships venv separately from python3.
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
# "latex" and "browser" are not Python extras: they ask for programs from Debian, which tests use.
# "latex": a LaTeX engine (about 35 s, 70 MB): texlive-latex-base (hyperref, longtable), -recommended
# (mathtools, booktabs, xcolor), -pictures (TikZ), texlive-base (amssymb), to compile exported documents;
# and for documents with text beyond Latin (Greek, Cyrillic, CJK; compiled with lualatex, about 45 MB more):
# texlive-luatex (luaotfload, the LuaLaTeX format), fonts-wqy-microhei (CJK), fonts-dejavu-core (Greek, Cyrillic).
# "browser": Chromium (about 30 s, 300 MB), to render exported HTML pages headless.
apt_install() {
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
extras=""
for word in "$@"; do
    if [ "$word" = latex ]; then
        if ! command -v pdflatex >/dev/null 2>&1 || ! kpsewhich tikz.sty mathtools.sty >/dev/null 2>&1; then
            apt_install texlive-base texlive-latex-base texlive-latex-recommended texlive-pictures poppler-utils
        fi
        if ! command -v lualatex >/dev/null 2>&1 || ! kpsewhich luaotfload.sty >/dev/null 2>&1 \
            || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]; then
            apt_install texlive-luatex fonts-wqy-microhei fonts-dejavu-core
        fi
    elif [ "$word" = browser ]; then
        command -v chromium >/dev/null 2>&1 || apt_install chromium
    else
        extras="$extras $word"
    fi
done
set -- $extras
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ $# -eq 0 ]; then
    # The tool alone: a regular install, byte-compiled by pip, starts faster than an editable one
    # (no import hook; measured about 0.05 s of a 0.9 s `derivchain grad W1`).
    .venv/bin/python -m pip install -q --disable-pip-version-check .
else
    # Development (tests, extras): editable, so the checkout is what runs. pip does not byte-compile
    # an editable package; where PYTHONDONTWRITEBYTECODE is set every start would compile it again.
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$(echo "$*" | tr ' ' ',')]"
    .venv/bin/python -m compileall -q derivchain
fi
.venv/bin/python -c "import derivchain" # fail here, not later, if the install did not work
