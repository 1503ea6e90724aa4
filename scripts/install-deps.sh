#!/usr/bin/env bash
# Installs the Debian 12 packages Custos needs to build, run and test, and
# nothing else. Only packages that are missing are installed; the script is
# silent and non-interactive, so it is safe to call from `make run`,
# `make test` and CI on a brand-new machine.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git lld
  libpoco-dev libssl-dev openssl
  libsqlite3-dev libarchive-dev zlib1g-dev libargon2-dev libpq-dev
  postgresql
  libgtest-dev libgmock-dev
  clang-format curl ca-certificates
  sslscan chromium fonts-wqy-microhei zbar-tools
  oathtool
  golang-go golang-golang-x-mod-dev
  libmagic-dev libpoppler-cpp-dev libtesseract-dev libleptonica-dev
  tesseract-ocr-chi-sim tesseract-ocr-eng imagemagick libxml2-dev
  libopencc-dev opencc poppler-data
  libqpdf-dev poppler-utils
)
# Node.js and npm for the browser tests (tests/ui), unless some Node.js with
# npm is already there (a distribution's nodejs package may bundle npm, and
# Debian's npm package would conflict with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

if [[ -n "${CUSTOS_EXTRA_PACKAGES:-}" ]]; then
  read -r -a extra <<<"${CUSTOS_EXTRA_PACKAGES}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them or rerun as root" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages that bring a daemon (postgresql; nginx for make bench) must not
# start it: the tests and benchmarks start their own servers on free ports
# and stop them again. Debian's policy-rc.d hook says so for the duration of
# the install, unless the machine already has one (container images do).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# installed by custos scripts/install-deps.sh while it runs apt-get\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
