#!/usr/bin/env bash
# Install the Debian packages the platform needs, only those that are missing.
# As root it runs apt-get; as another user it uses sudo when it can, else it says what to install.
set -euo pipefail

PACKAGES=(postgresql-15 postgresql-15-postgis-3 gdal-bin chromium fonts-wqy-zenhei fonts-noto-cjk python3-qgis qgis-providers mosquitto libpango-1.0-0 libpangoft2-1.0-0)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
command -v runuser >/dev/null 2>&1 || PACKAGES+=(util-linux)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps: installing ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
else
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: ask an administrator to run: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q >/dev/null
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: done"
