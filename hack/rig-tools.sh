#!/usr/bin/env bash
# Builds the real servers the tests and the sandbox run (kube-apiserver,
# kube-controller-manager, etcd; with "velero" also the Velero server and its AWS
# plugin; with "krew" the krew tools; with "golangci-lint" the linter `make lint`
# runs) from the Go module proxy, once, into the user
# cache directory, keyed by version. Prints the directory holding the binaries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${OADP_STS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-oadp_sts}

build() { # build DIR MODULE-DIR PACKAGE NAME
  local out=$1/$4
  [ -x "$out" ] && return 0
  mkdir -p "$1"
  echo "building $4 (first time only, cached in $1)" >&2
  (cd "$2" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp" "$3") && mv "$out.tmp" "$out"
}

set_controlplane() {
  local d=$cache/controlplane-v1.37.2
  build "$d" "$here/tools/controlplane" go.etcd.io/etcd/server/v3 etcd
  build "$d" "$here/tools/controlplane" k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
  build "$d" "$here/tools/controlplane" k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
  echo "$d"
}

set_velero() {
  local d=$cache/velero-v1.18.3-aws-v1.14.3
  build "$d" "$here/tools/velero" github.com/vmware-tanzu/velero/cmd/velero velero
  build "$d" "$here/tools/velero" github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws velero-plugin-for-aws
  echo "$d"
}

set_krew() {
  local d=$cache/krew-v0.4.3
  build "$d" "$here/tools/krew" sigs.k8s.io/krew/cmd/krew kubectl-krew
  build "$d" "$here/tools/krew" sigs.k8s.io/krew/cmd/validate-krew-manifest validate-krew-manifest
  echo "$d"
}

set_golangci-lint() {
  local d=$cache/golangci-lint-v2.15.0
  build "$d" "$here/tools/golangci-lint" github.com/golangci/golangci-lint/v2/cmd/golangci-lint golangci-lint
  echo "$d"
}

for what in "${@:-controlplane}"; do "set_$what"; done
