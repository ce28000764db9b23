#!/usr/bin/env bash
# Installs what wgpt's tests need from the system on Debian bookworm, as root:
#   - lavapipe (Mesa Vulkan CPU driver) 25.x from bookworm-backports, for Dawn in Node
#   - the Vulkan loader
#   - Debian's chromium (its bundled SwiftShader gives headless WebGPU)
#   - python3-torch (PyTorch CPU), the reference for model parity tests
# The backports entry is made by copying the machine's existing Debian source entry with the suite
# replaced, so no registry host name lives in this repository.
# On a later Debian (trixie has Mesa 25 in main) everything comes from the main suite.
# Usage: scripts/install-system.sh [--check]   (--check: exit 1 if something is missing, install nothing)
set -euo pipefail

check() {
  missing=()
  # (outputs go through variables: with pipefail, `cmd | grep -q` can fail when grep exits early)
  local mesa libs
  mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && [[ "$mesa" =~ ^(2[4-9]|[3-9][0-9])\. ]] || missing+=(lavapipe)
  libs=$(/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true)
  [[ "$libs" == *libvulkan.so.1* ]] || missing+=(libvulkan1)
  [ -x /usr/bin/chromium ] && [ -e /usr/lib/chromium/libvk_swiftshader.so ] || missing+=(chromium)
  python3 -c 'import torch' >/dev/null 2>&1 || /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
}

check
if [ ${#missing[@]} -eq 0 ]; then echo "install-system: all present"; exit 0; fi
if [ "${1:-}" = "--check" ]; then echo "install-system: missing: ${missing[*]}"; exit 1; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system: missing ${missing[*]}; run as root on Debian bookworm: sudo bash scripts/install-system.sh" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
mesa_target=()
if [ "$codename" = bookworm ]; then
  # Mesa in bookworm main (22.3) is rejected by Dawn: take mesa-vulkan-drivers from bookworm-backports.
  mesa_target=(-t bookworm-backports)
  src=/etc/apt/sources.list.d/debian.sources
  bp=/etc/apt/sources.list.d/wgpt-backports.sources
  if [ ! -f "$bp" ] && ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if [ -f "$src" ]; then
      # deb822: copy the stanza that carries the plain `bookworm` suite (the main archive, not
      # -security) and point it at bookworm-backports.
      awk 'BEGIN { RS = ""; ORS = "\n\n" }
           !done && $0 ~ /(^|\n)Suites:([^\n]*[ \t])?bookworm([ \t\n]|$)/ { print; done = 1 }' "$src" |
        sed -E 's/^Suites:.*/Suites: bookworm-backports/' > "$bp"
      if ! grep -q '^Suites: bookworm-backports' "$bp"; then
        rm -f "$bp"
        echo "install-system: no stanza with suite 'bookworm' in $src to copy for bookworm-backports" >&2
        exit 1
      fi
    else
      line=$(grep -hE '^deb [^#]*[ /]bookworm main' /etc/apt/sources.list 2>/dev/null | grep -v cdrom: | head -1 || true)
      if [ -z "$line" ]; then
        echo "install-system: found no 'deb ... bookworm main' entry to copy for bookworm-backports; add bookworm-backports to apt's sources yourself" >&2
        exit 1
      fi
      echo "$line" | sed -E 's/ bookworm main/ bookworm-backports main/' > /etc/apt/sources.list.d/wgpt-backports.list
    fi
  fi
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends libvulkan1 chromium python3-torch fonts-dejavu-core >/dev/null
apt-get install -y -qq --no-install-recommends "${mesa_target[@]}" mesa-vulkan-drivers >/dev/null
echo "install-system: installed; mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"

check
if [ ${#missing[@]} -ne 0 ]; then echo "install-system: still missing after install: ${missing[*]}" >&2; exit 1; fi
