#!/usr/bin/env bash
# OS packages the test suite needs, installed by `make install` (and so by `make test` and CI).
#   bubblewrap  the per-submission sandbox of `python -m mmcourse grade` (Linux)
#   chromium    the headless browser of the website test (tests/test_book.py)
#   libjs-mathjax  MathJax, copied into the website so its formulas render offline (make book)
# Installs only what is missing, and only where it can (Debian/Ubuntu with apt-get, as root or
# with passwordless sudo). Elsewhere it prints what to install by hand and exits 0: the tests that
# need a missing tool skip with a reason, and the grader refuses to run unsandboxed.
set -euo pipefail

declare -A COMMAND_OF=([bubblewrap]=bwrap [chromium]=chromium)
declare -A FILE_OF=([libjs-mathjax]=/usr/share/javascript/mathjax/MathJax.js)
missing=()
for package in "${!COMMAND_OF[@]}"; do
    command -v "${COMMAND_OF[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
for package in "${!FILE_OF[@]}"; do
    [ -e "${FILE_OF[$package]}" ] || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_os_packages: no apt-get here; install by hand: ${missing[*]}" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install_os_packages: not root and no passwordless sudo; install by hand: ${missing[*]}" >&2
    exit 0
fi
echo "install_os_packages: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq || echo "install_os_packages: apt-get update failed" >&2
# One package at a time, so one that this distribution lacks (Ubuntu ships chromium only as a
# snap) does not stop the others; what failed is named, and its tests skip with a reason.
for package in "${missing[@]}"; do
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "$package" >/dev/null \
        || echo "install_os_packages: could not install $package; install it by hand" >&2
done
