#!/usr/bin/env bash
# Reads harness/pins, the one list of pinned external inputs, and fetches or checks them.
# Sourced by the fetch scripts; also a command, for CI:
#   pins.sh table      the pinned versions, for the log
#   pins.sh host SET   check (or install, at the pinned version) the host tools of SET
# Functions print errors prefixed "pins:" and return non-zero; the scripts run with `set -e`, so a
# failing command inside a function ends the script at once: pins_fail only prints.

pins_file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pins"
pins_lists_refreshed=0

pins_fail() {
  local line
  for line in "$@"; do echo "pins: $line" >&2; done
}

# pins_rows SET: "PACKAGE VERSION CHECK" for every pin of SET; fails for an unknown set.
pins_rows() {
  local rows
  rows="$(awk -v set="$1" '$1 == set { print $2, $3, $4 }' "$pins_file")"
  [[ -n $rows ]] || { pins_fail "no set '$1' in $pins_file"; return 1; }
  echo "$rows"
}

# pins_digest SET: a hash of SET's pins, which a cache keeps to notice a changed pin.
pins_digest() {
  local rows
  rows="$(pins_rows "$1")" || return 1
  sha256sum <<<"$rows" | cut -c1-16
}

pins_refresh_lists_once() {
  if [[ $pins_lists_refreshed == 0 ]]; then
    pins_lists_refreshed=1
    echo "pins: refreshing the package lists (apt-get update)" >&2
    apt-get update -qq >/dev/null 2>&1 || echo "pins: apt-get update failed; using the lists there are" >&2
  fi
}

pins_upgrade_hint() {
  pins_fail \
    "  Debian keeps only the newest build in a suite, so an older pin can vanish. To upgrade," \
    "  put the version \`apt-cache policy PACKAGE\` offers and the SHA256 that" \
    "  \`apt-cache show PACKAGE=VERSION\` lists into $pins_file (one edit, every package of" \
    "  the set), then run the full CI: CI=true bash .ci/run"
}

# pins_deb DIR PACKAGE VERSION: the file apt downloads that package to in DIR (an epoch's colon
# is written %3a); empty when there is none.
pins_deb() {
  compgen -G "$1/${2}_${3//:/%3a}_*.deb" | head -n1 || true
}

# pins_verify FILE SHA256: true when FILE has that hash; otherwise deletes FILE and fails loudly.
pins_verify() {
  local actual
  actual="$(sha256sum "$1" | cut -d' ' -f1)"
  [[ $actual == "$2" ]] && return 0
  rm -f "$1"
  pins_fail \
    "SHA256 MISMATCH: $(basename "$1")" \
    "  pinned   $2" \
    "  fetched  $actual" \
    "  The file was deleted. Either the registry served other bytes than the pin names, or" \
    "  $pins_file is wrong. Nothing from it was unpacked."
  return 1
}

# pins_keep_only DIR EXT FILE...: removes every *.EXT in DIR but the FILEs (a set's cache holds
# only its current pins).
pins_keep_only() {
  local dir="$1" ext="$2" file
  shift 2
  for file in "$dir"/*."$ext"; do
    [[ " $* " == *" $file "* ]] || rm -f "$file"
  done
}

# pins_fetch SET DIR: afterwards DIR holds exactly SET's packages, each at its pinned version
# and hash (verified files already there are kept; anything else in DIR is removed).
pins_fetch() {
  local set="$1" dir="$2" rows pkg version check deb pinned=() missing=() keep=()
  rows="$(pins_rows "$set")" || return 1
  mkdir -p "$dir"
  while read -r pkg version check; do
    [[ $check == sha256:* ]] || { pins_fail "$pkg in set $set has no sha256"; return 1; }
    deb="$(pins_deb "$dir" "$pkg" "$version")"
    if [[ -z $deb ]] || ! pins_verify "$deb" "${check#sha256:}" 2>/dev/null; then
      pinned+=("$pkg=$version")
    fi
  done <<<"$rows"
  if ((${#pinned[@]})); then
    echo "pins: downloading ${pinned[*]}" >&2
    if ! (cd "$dir" && apt-get download "${pinned[@]}" >/dev/null 2>&1); then
      pins_refresh_lists_once
      for pkg in "${pinned[@]}"; do
        # (apt-cache show succeeds, printing nothing, for a known package at an unknown version.)
        [[ "$(apt-cache show "$pkg" 2>/dev/null)" == *Package:* ]] || missing+=("$pkg")
      done
      if ((${#missing[@]})); then
        pins_fail "not in Debian's package lists (after apt-get update): ${missing[*]} (set $set)"
        pins_upgrade_hint
        return 1
      fi
      (cd "$dir" && apt-get download "${pinned[@]}" >&2) || {
        pins_fail "could not download ${pinned[*]} (set $set)"
        return 1
      }
    fi
  fi
  while read -r pkg version check; do
    deb="$(pins_deb "$dir" "$pkg" "$version")"
    [[ -n $deb ]] || { pins_fail "no file for $pkg=$version after the download"; return 1; }
    pins_verify "$deb" "${check#sha256:}" || return 1
    keep+=("$deb")
  done <<<"$rows"
  pins_keep_only "$dir" deb "${keep[@]}"
}

# pins_tgz DIR PACKAGE VERSION: the file `npm pack` writes that package to in DIR (a scope's
# @ dropped, its slash written -).
pins_tgz() {
  local name="${2#@}"
  echo "$1/${name//\//-}-$3.tgz"
}

# pins_fetch_npm SET DIR: afterwards DIR holds exactly SET's npm packages, each the tarball
# `npm pack` writes (PACKAGE-VERSION.tgz), at its pinned version and hash.
pins_fetch_npm() {
  local set="$1" dir="$2" rows pkg version check tgz keep=()
  rows="$(pins_rows "$set")" || return 1
  mkdir -p "$dir"
  while read -r pkg version check; do
    [[ $check == sha256:* ]] || { pins_fail "$pkg in set $set has no sha256"; return 1; }
    tgz="$(pins_tgz "$dir" "$pkg" "$version")"
    if [[ ! -f $tgz ]] || ! pins_verify "$tgz" "${check#sha256:}" 2>/dev/null; then
      echo "pins: downloading $pkg@$version (npm)" >&2
      npm pack --silent --pack-destination "$dir" "$pkg@$version" >/dev/null || {
        pins_fail "could not download $pkg@$version from the npm registry (set $set)"
        return 1
      }
      [[ -f $tgz ]] || { pins_fail "no file $(basename "$tgz") after npm pack"; return 1; }
      pins_verify "$tgz" "${check#sha256:}" || return 1
    fi
    keep+=("$tgz")
  done <<<"$rows"
  pins_keep_only "$dir" tgz "${keep[@]}"
}

# pins_host SET: every host tool of SET is installed at least at its minimum; a missing one is
# installed at its pinned version.
pins_host() {
  local rows pkg version check installed pinned=() old=()
  rows="$(pins_rows "$1")" || return 1
  while read -r pkg version check; do
    [[ $check == min:* ]] || { pins_fail "$pkg in set $1 has no minimum"; return 1; }
    installed="$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$pkg" 2>/dev/null || true)"
    if [[ $installed != ii* ]]; then
      pinned+=("$pkg=$version")
    elif ! dpkg --compare-versions "${installed:3}" ge "${check#min:}"; then
      old+=("$pkg ${installed:3} (at least ${check#min:} is needed)")
    fi
  done <<<"$rows"
  if ((${#old[@]})); then
    pins_fail "host tools too old: ${old[*]}" \
      "  upgrade them (the version CI installs is pinned in $pins_file)"
    return 1
  fi
  ((${#pinned[@]})) || return 0
  echo "pins: installing ${pinned[*]}" >&2
  pins_refresh_lists_once
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${pinned[@]}" >&2 || {
    pins_fail "could not install ${pinned[*]}"
    pins_upgrade_hint
    return 1
  }
}

# pins_table: the pinned versions, one line per set and version, for a log.
pins_table() {
  echo "Pinned inputs (harness/pins; .debs are sha256-checked, host tools have a minimum):"
  awk '!/^#/ && NF == 4 {
    key = sprintf("%-11s %-33s", $1, $3)
    if (!(key in packages)) order[++n] = key
    packages[key] = packages[key] " " $2
    if ($4 ~ /^min:/) suffix[key] = " (at least " substr($4, 5) ")"
  }
  END { for (i = 1; i <= n; i++) print "  " order[i] packages[order[i]] suffix[order[i]] }' "$pins_file"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    table) pins_table ;;
    host) pins_host "$2" ;;
    *)
      echo "usage: $0 table | host SET" >&2
      exit 2
      ;;
  esac
fi
