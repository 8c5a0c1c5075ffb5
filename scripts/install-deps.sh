#!/usr/bin/env bash
# Installs Vitrine's build and run dependencies from Debian 12 packages.
# Skips what is already installed; works as root or through sudo.
set -euo pipefail

PACKAGES=(
  cmake ninja-build ccache g++ pkg-config
  qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev qt6-image-formats-plugins libqt6svg6 libgl-dev
  libtorch-dev libgloo-dev libopenblas0-pthread libdnnl-dev
  libopencv-dev
  libwebp-dev libgif-dev libheif-dev libjxl-dev libjpeg62-turbo-dev
  libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libhnswlib-dev libfaiss-dev
  catch2
  xvfb xauth
)
for arg in "$@"; do
  case "$arg" in
    --with-peers)
      # Python peers for bench/ (Debian's /usr/bin/python3).
      PACKAGES+=(python3-torch python3-torchvision python3-faiss python3-sklearn python3-numpy python3-opencv python3-pil
                 python3-hnswlib umap-learn) ;;
    --with-checks)
      # CI's checks (.ci/run): scripts/tidy.sh and scripts/format.sh (clang 14 on Debian 12);
      # tidy.sh reads the compile commands with python3.
      PACKAGES+=(clang-tidy clang-format python3) ;;
    *) echo "install-deps: unknown option $arg (--with-peers, --with-checks)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
