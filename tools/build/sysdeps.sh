#!/usr/bin/env bash
# Install the Debian packages the checks need, when they are missing and we may (root + apt-get).
# chromium + chromium-driver: the real-browser check of the built book.
# dataset-fashion-mnist: the idx files of Fashion-MNIST (`make data` copies them into AIBNB_DATA).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -eq 0 ]; then
  echo "sysdeps: chromium, chromium-driver and dataset-fashion-mnist are present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: missing ${missing[*]}; install them with your package manager" >&2
  echo "         (Debian/Ubuntu: sudo apt-get install ${missing[*]})." >&2
  echo "         Without chromium the browser test fails; without the dataset package" >&2
  echo "         'make data' falls back to torchvision's downloader." >&2
  exit 0
fi
echo "sysdeps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" fonts-dejavu-core
