#!/usr/bin/env bash
# Builds, once per version, the control planes the end-to-end suite runs on, and caches them
# outside the repository (PODPATTERN_E2E_CACHE, default ~/.cache/podpattern-e2e):
#
#   kubernetes-<version>/  kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   etcd-<version>/        etcd
#
# Each component is a Go module of this folder (kubernetes-1.37/, kubernetes-1.30/, etcd/):
# its go.mod requires k8s.io/kubernetes (or etcd's server module) at one release and pins the
# staging modules (k8s.io/api, k8s.io/apiserver, ...) to the matching v0.X.Y, so everything
# comes from the Go module proxy and go.sum fixes every byte. Nothing else is downloaded.
#
# Usage: bash test/e2e/cluster/build.sh [all|etcd|1.37|1.30]...   (default: all)
# A cached build is reused when its binaries answer --version with the expected version and
# its stamp matches the go.sum it was built from; anything else is rebuilt.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${PODPATTERN_E2E_CACHE:-$HOME/.cache/podpattern-e2e}
GO=${GO:-$(command -v /usr/local/go/bin/go || command -v go || true)}

say() { printf '[e2e build] %s\n' "$*" >&2; }
die() { printf '[e2e build] FAILED: %s\n' "$*" >&2; exit 1; }

check_go() {
  [ -n "$GO" ] || die "no Go toolchain found (looked for /usr/local/go/bin/go and go on PATH); install Go 1.26 or newer, or set GO=/path/to/go"
  local version
  version=$("$GO" env GOVERSION 2>/dev/null || true)
  case "$version" in
    go1.2[6-9]*|go1.[3-9][0-9]*) ;;
    *) die "$GO is ${version:-unusable}; Kubernetes 1.37 needs Go 1.26 or newer (set GO=/path/to/go)" ;;
  esac
}

# The version a module folder builds: the one version of $2 its go.mod requires.
required_version() {
  local version
  version=$(sed -nE "s#^[[:space:]]*(require[[:space:]]+)?$2[[:space:]]+(v[0-9][^[:space:]]*).*#\2#p" "$1/go.mod" | head -n 1)
  [ -n "$version" ] || die "$1/go.mod requires no $2"
  printf '%s' "$version"
}

# The stamp is the modules' content only (not their path), so every clone shares one cache.
stamp_of() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }

# cached DIR STAMP BINARY... : whether DIR holds a complete build from this stamp whose
# binaries run. A half-written or foreign cache is not trusted.
cached() {
  local dir=$1 stamp=$2
  shift 2
  [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ] || return 1
  local binary
  for binary in "$@"; do
    if [ "$binary" = kubectl ]; then
      "$dir/kubectl" version --client >/dev/null 2>&1 || return 1
    else
      "$dir/$binary" --version >/dev/null 2>&1 || return 1
    fi
  done
}

# go_build MODULE_DIR OUT_DIR LDFLAGS PACKAGE...: builds into a temporary folder and moves it
# into place only when everything built, so an interrupted build never looks cached.
go_build() {
  local module=$1 out=$2 ldflags=$3
  shift 3
  local work="$out.partial.$$" log="$CACHE_DIR/build-$(basename "$out").log"
  rm -rf "$work" && mkdir -p "$work"
  say "building $(basename "$out") (log: $log); $(usual_time "$out")"
  local started=$SECONDS
  # A progress line every 30 s: a build from nothing prints nothing for minutes otherwise. The
  # sleep gets none of the script's streams: killing the ticker leaves its last sleep running,
  # which would otherwise hold a reader of the script's output open for up to 30 s more.
  ( while sleep 30 </dev/null >/dev/null 2>&1; do say "still building $(basename "$out"): $((SECONDS - started)) s so far"; done ) &
  local ticker=$!
  local built=0
  (cd "$module" && CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
    "$GO" build -trimpath -ldflags "$ldflags" -o "$work/" "$@") >"$log" 2>&1 && built=1
  # The ticker ends by this SIGTERM, so its status is 143: under set -e a bare wait would end
  # the script there, after a successful build and before it is moved into place.
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  if [ "$built" -ne 1 ]; then
    tail -n 20 "$log" >&2
    rm -rf "$work"
    die "go build in $module failed (full log: $log); fix the cause and run: bash test/e2e/cluster/build.sh"
  fi
  # A main package is named after its folder: etcd's server module builds `server`.
  [ -n "${RENAME:-}" ] && mv "$work/${RENAME%%=*}" "$work/${RENAME#*=}"
  stamp_of "$module" >"$work/.stamp"
  rm -rf "$out" && mv "$work" "$out"
  say "built $(basename "$out") in $((SECONDS - started)) s"
}

# What a build usually takes here (2 cores, measured; test/e2e/README.md has the table).
usual_time() {
  case "$(basename "$1")" in
    etcd-*) printf 'etcd from nothing usually takes 1 to 4 minutes' ;;
    *) printf 'a Kubernetes leg from nothing usually takes 10 to 12 minutes on 2 idle cores, and over an hour with the cores shared (a load average of about 20); about a minute with a warm Go build cache' ;;
  esac
}

build_kubernetes() {
  local module="$HERE/kubernetes-$1"
  [ -f "$module/go.mod" ] || die "no module folder $module (known: $(cd "$HERE" && ls -d kubernetes-* | tr '\n' ' '))"
  local version
  version=$(required_version "$module" k8s.io/kubernetes)
  local out="$CACHE_DIR/kubernetes-$version"
  if cached "$out" "$(stamp_of "$module")" kube-apiserver kube-controller-manager kube-scheduler kubectl; then
    say "kubernetes $version: cached in $out"
    return
  fi
  [ -d "$out" ] && say "kubernetes $version: the cache in $out is incomplete or stale; rebuilding"
  # Binaries built from module sources report v0.0.0 unless told their version; the API
  # server's /version must say the release (Helm's kubeVersion check and podpattern's
  # --native-sidecars=auto read it).
  local minor=${version#v1.}
  minor=${minor%%.*}
  local v=k8s.io/component-base/version
  go_build "$module" "$out" \
    "-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local module="$HERE/etcd"
  local version
  version=$(required_version "$module" go.etcd.io/etcd/server/v3)
  local out="$CACHE_DIR/etcd-$version"
  if cached "$out" "$(stamp_of "$module")" etcd; then
    say "etcd $version: cached in $out"
    return
  fi
  # The server module's main package is the etcd binary.
  RENAME=server=etcd go_build "$module" "$out" "-s -w" go.etcd.io/etcd/server/v3
}

main() {
  check_go
  mkdir -p "$CACHE_DIR" || die "cannot create the cache folder $CACHE_DIR (set PODPATTERN_E2E_CACHE)"
  # One build at a time per cache: a second run waits for the first instead of racing it.
  exec 9>"$CACHE_DIR/.lock"
  local waited=$SECONDS
  until flock -w 30 9; do
    say "waiting for another build of $CACHE_DIR to finish (its lock: $CACHE_DIR/.lock): $((SECONDS - waited)) s so far"
  done
  local total=$SECONDS
  local targets=("$@")
  [ ${#targets[@]} -eq 0 ] && targets=(all)
  for target in "${targets[@]}"; do
    case "$target" in
      all) build_etcd; for module in "$HERE"/kubernetes-*; do build_kubernetes "${module##*/kubernetes-}"; done ;;
      etcd) build_etcd ;;
      *) build_kubernetes "$target" ;;
    esac
  done
  say "control planes ready in $((SECONDS - total)) s"
}

main "$@"
