#!/usr/bin/env bash
# Installs the Debian packages in scripts/packages.txt that are not installed yet.
# Uses sudo when not run as root. Does nothing (and needs no network) when all are there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

missing=()
while read -r package; do
  package=${package%%#*}
  package=${package//[[:space:]]/}
  [ -n "$package" ] || continue
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done <"$here/packages.txt"

if [ ${#missing[@]} -eq 0 ]; then
  echo "vshm: all build and test packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "vshm: need root to install: ${missing[*]} (run as root, or install sudo)" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "vshm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
