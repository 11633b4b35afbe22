#!/usr/bin/env bash
# Builds (once) and caches a kube-apiserver for the e2e suite, and makes sure etcd and kubectl
# are installed. Idempotent: when the cached binary runs `--version`, only the etcd/kubectl
# checks run. Non-interactive (CI): needs root or passwordless sudo for apt-get.
#
# Source: Debian bookworm's `kubernetes` source package (1.20.5+really1.20.2, vendor/ included),
# built offline with Debian's golang-go the way debian/rules does. See test/e2e/README.md.
set -euo pipefail

CACHE_DIR="${PODPATTERN_E2E_CACHE:-$HOME/.cache/podpattern-e2e}"
BIN="$CACHE_DIR/kube-apiserver"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[build-apiserver] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -q </dev/null
    apt_updated=1
  fi
  as_root apt-get install -y -q --no-install-recommends "$@" </dev/null
}

# Adds deb-src entries mirroring the existing deb entries (same URIs and suites), in a file of
# our own, so `apt-get source` works. Handles deb822 `.sources` and one-line `.list` formats.
ensure_deb_src() {
  local dir=/etc/apt/sources.list.d
  local ours_deb822="$dir/podpattern-e2e-src.sources"
  local ours_list="$dir/podpattern-e2e-src.list"
  [ -e "$ours_deb822" ] || [ -e "$ours_list" ] && return 0
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list "$dir"/*.sources "$dir"/*.list; then
    return 0
  fi
  if [ -f "$dir/debian.sources" ]; then
    log "adding deb-src entries to $ours_deb822"
    sed -E 's/^Types:.*/Types: deb-src/' "$dir/debian.sources" | as_root tee "$ours_deb822" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    log "adding deb-src entries to $ours_list"
    grep -E '^deb [^#]*debian' /etc/apt/sources.list | sed -E 's/^deb /deb-src /' \
      | as_root tee "$ours_list" >/dev/null
  else
    log "no Debian apt sources found; cannot add deb-src"; return 1
  fi
  apt_updated=0
}

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then return 0; fi
  log "installing etcd-server"
  apt_install etcd-server
  # The package starts a system etcd on :2379; the harness runs its own on free ports, and a
  # system one only wastes memory, so stop it where a service manager exists.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
}

ensure_kubectl() {
  if command -v kubectl >/dev/null 2>&1; then return 0; fi
  log "installing kubectl"
  apt_install kubernetes-client
}

cached_ok() {
  [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1
}

# Debian's reflect2 1.0.2 replaces the vendored 1.0.1, which faults under Go >= 1.18 in
# reflect2.UnsafeIterate the first time a webhook returns a patch.
replace_reflect2() {
  local tree="$1"
  local src=/usr/share/gocode/src/github.com/modern-go/reflect2
  local dst="$tree/vendor/github.com/modern-go/reflect2"
  [ -d "$src" ] || { log "missing $src (golang-github-modern-go-reflect2-dev)"; return 1; }
  rm -rf "$dst"
  mkdir -p "$dst"
  cp -r "$src"/. "$dst"/
  find "$dst" -name '*_test.go' -delete
  rm -f "$dst/go.mod" "$dst/go.sum"
  sed -i -E 's#(github\.com/modern-go/reflect2) v1\.0\.1#\1 v1.0.2#g' \
    "$tree/go.mod" "$tree/vendor/modules.txt" \
    "$tree"/staging/src/k8s.io/*/go.mod
  # go.sum hashes are not checked with -mod=vendor, but keep them from naming the old version.
  sed -i -E '/github\.com\/modern-go\/reflect2 v1\.0\.1/d' "$tree/go.sum" || true
}

build_apiserver() {
  local work="$CACHE_DIR/build"
  rm -rf "$work"
  mkdir -p "$work"
  log "fetching the Debian kubernetes source package"
  (cd "$work" && apt-get source -q --download-only kubernetes </dev/null \
     && dpkg-source -x ./kubernetes_*.dsc src >/dev/null)
  local tree="$work/src"
  replace_reflect2 "$tree"

  # GOPATH layout as debian/rules: k8s.io/kubernetes is a link to the tree.
  local gopath="$work/gopath"
  mkdir -p "$gopath/src/k8s.io"
  ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
  log "building kube-apiserver (several minutes)"
  (
    cd "$gopath/src/k8s.io/kubernetes"
    export GOPATH="$gopath" GOCACHE="$work/gocache" GOPROXY=off GOFLAGS=-mod=vendor \
      GO111MODULE=on CGO_ENABLED=0 KUBE_GIT_TREE_STATE=clean \
      KUBE_GIT_VERSION="v1.20.2" KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20
    make WHAT=cmd/kube-apiserver </dev/null
  )
  local out
  out="$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n1)"
  [ -n "$out" ] || { log "build produced no kube-apiserver"; return 1; }
  install -m 0755 "$out" "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
  "$BIN" --version
  if [ -z "${PODPATTERN_E2E_KEEP_BUILD:-}" ]; then rm -rf "$work"; fi
}

main() {
  mkdir -p "$CACHE_DIR"
  if cached_ok; then
    log "cached $("$BIN" --version) at $BIN"
  else
    ensure_deb_src
    apt_install dpkg-dev golang-go golang-github-modern-go-reflect2-dev make rsync
    build_apiserver
  fi
  ensure_etcd
  ensure_kubectl
  log "ready: $BIN, $(command -v etcd), $(command -v kubectl)"
}

main "$@"
