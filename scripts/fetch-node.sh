#!/usr/bin/env bash
# Fetch the Node.js 22 that the package test installs and loads the tarball with: set `node-22`
# of harness/pins (Node's official linux-x64 build, as the npm registry ships it), its tarball
# checked against the pinned sha256, the binary unpacked to .cache/node-22/bin/node. Prints that
# path. A cache whose stamp holds the set's current pins is reused; a changed pin refetches.
#   fetch-node.sh            fetch what is missing
#   fetch-node.sh --cached   fetch nothing: print the path if the cache is complete and its
#                            tarball still has the pinned sha256; exit 3 (with the reason) when
#                            it was never fetched, 1 when it does not verify
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../harness/pins.sh"
set_name=node-22
cache="${XENWIRE_CACHE:-$(cd "$here/.." && pwd)/.cache}/$set_name"
node="$cache/bin/node"
stamp="$cache/.complete"
digest="$(pins_digest "$set_name")"
read -r pkg version check <<<"$(pins_rows "$set_name")"

if [[ ${1:-} == --cached ]]; then
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]]; then
    echo "fetch-node: Node $version (set $set_name of harness/pins) is not fetched; run scripts/fetch-node.sh" >&2
    exit 3
  fi
  pins_verify "$(pins_tgz "$cache/npm" "$pkg" "$version")" "${check#sha256:}" || {
    rm -rf "$stamp" "$cache/bin"
    echo "fetch-node: removed the Node unpacked from it as well; scripts/fetch-node.sh fetches it again" >&2
    exit 1
  }
  echo "$node"
  exit 0
fi

if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]]; then
  mkdir -p "$cache"
  # Test workers may ask at once: one fetches, the others wait for its stamp.
  exec 9>"$cache/.lock"
  flock 9
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]]; then
    rm -rf "$cache/bin" "$stamp"
    pins_fetch_npm "$set_name" "$cache/npm"
    mkdir -p "$cache/bin"
    tar -xzf "$(pins_tgz "$cache/npm" "$pkg" "$version")" -C "$cache/bin" --strip-components=2 \
      package/bin/node
    [[ "$("$node" --version)" == "v$version" ]] || {
      echo "fetch-node: $node is not Node $version" >&2
      exit 1
    }
    echo "$digest" >"$stamp"
  fi
fi
echo "$node"
}
