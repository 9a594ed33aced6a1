#!/usr/bin/env bash
# Installs the Debian packages lockstep builds against, or says exactly how to.
#
# Run by `make demo` and `make test` before configuring. As root it installs whatever
# is missing with apt-get; as anyone else it prints the one apt-get line to run and
# fails, so a build never starts with half its dependencies.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang pkg-config make
  libabsl-dev libconcurrentqueue-dev liburing-dev libxxhash-dev libssl-dev
  libbenchmark-dev libgtest-dev libgmock-dev
  libclang-rt-14-dev clang-format
  llvm-14
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "lockstep needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed"
