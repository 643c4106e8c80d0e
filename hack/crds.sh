#!/usr/bin/env bash
# The CRD fixtures the tests and the sandbox install that no Go module carries:
# OADP 1.3, 1.4 and 1.5 (every oadp.openshift.io CRD of its bundle), the CLI
# Manager's Plugin and the ACM kinds. They are found, or downloaded once from
# their pinned upstream commits and checked against hack/crds.sha256.
#
#   hack/crds.sh dir      print the fixture directory: ../shared/crds beside the
#                         repository (or beside the checkout it was cloned from)
#                         when it holds every fixture, else the user cache
#   hack/crds.sh ensure   make $OADP_STS_CRDS (default: dir) hold every fixture,
#                         downloading only when one is missing
#   hack/crds.sh sources  print each fixture's path and where it is downloaded from
#
# OADP_STS_CRDS_MIRROR replaces https://raw.githubusercontent.com (the tests
# point it at a local server); the paths below it stay owner/repo/commit/path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
sums=$here/crds.sha256
cache=${OADP_STS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-oadp_sts}/crds
mirror=${OADP_STS_CRDS_MIRROR:-https://raw.githubusercontent.com}

oadp13=openshift/oadp-operator/e7c20f103996ed5b71142bb995bcbf15e4a29c4a   # branch oadp-1.3
oadp14=openshift/oadp-operator/27e0a94cb1f8f2b5861670e4f32d5869c86b1ff9   # branch oadp-1.4
oadp15=openshift/oadp-operator/5073cee7696c561ed27aabcf92cef9491d6a9c1f   # branch oadp-1.5
climgr=openshift/cli-manager-operator/ace608093c96eb0c02d9588ae612d2a6a5908843
ocm=open-cluster-management-io/api/1845fd8032e4637d1fdee587cb1a714fc4ee93cd
propagator=open-cluster-management-io/governance-policy-propagator/19b1b7ba0073590eced9c70b8527738ef49eff88
configpolicy=open-cluster-management-io/config-policy-controller/ecf24b4086f374d9a8788557b9c46b29cf1fdfd1

sources() {
  local f
  for f in cloudstorages dataprotectionapplications; do
    echo "oadp-1.3/oadp.openshift.io_$f.yaml $oadp13/config/crd/bases/oadp.openshift.io_$f.yaml"
    echo "oadp-1.4/oadp.openshift.io_$f.yaml $oadp14/config/crd/bases/oadp.openshift.io_$f.yaml"
  done
  for f in cloudstorages dataprotectionapplications dataprotectiontests nonadminbackups \
    nonadminbackupstoragelocationrequests nonadminbackupstoragelocations nonadmindownloadrequests nonadminrestores; do
    echo "oadp-1.5/oadp.openshift.io_$f.yaml $oadp15/config/crd/bases/oadp.openshift.io_$f.yaml"
  done
  echo "cli-manager/config.openshift.io_plugins.yaml $climgr/manifests/config.openshift.io_plugins.yaml"
  # The ACM files are named as controller-gen names them, by group and plural.
  for f in v1/0000_00_clusters.open-cluster-management.io_managedclusters \
    v1beta2/0000_00_clusters.open-cluster-management.io_managedclustersets \
    v1beta2/0000_01_clusters.open-cluster-management.io_managedclustersetbindings \
    v1beta1/0000_02_clusters.open-cluster-management.io_placements \
    v1beta1/0000_03_clusters.open-cluster-management.io_placementdecisions; do
    local name=${f##*clusters.}
    echo "acm/cluster.${name}.yaml $ocm/cluster/$f.crd.yaml"
  done
  for f in policies placementbindings policysets; do
    echo "acm/policy.open-cluster-management.io_$f.yaml $propagator/deploy/crds/policy.open-cluster-management.io_$f.yaml"
  done
  for f in configurationpolicies operatorpolicies; do
    echo "acm/policy.open-cluster-management.io_$f.yaml $configpolicy/deploy/crds/policy.open-cluster-management.io_$f.yaml"
  done
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

# has DIR: DIR holds a file for every line of hack/crds.sha256.
has() {
  local sum path
  [ -d "$1" ] || return 1
  while read -r sum path; do [ -f "$1/$path" ] || return 1; done <"$sums"
}

dir() {
  local origin d
  origin=$(git -C "$root" remote get-url origin 2>/dev/null || true)
  for d in "$root/../shared/crds" ${origin:+"$origin/../shared/crds"}; do
    if has "$d"; then (cd "$d" && pwd); return; fi
  done
  echo "$cache"
}

fail() { echo "error: $*" >&2; exit 1; }

tmp=
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT

# download DIR: every fixture into a directory beside DIR, checked, then moved
# in; on any failure DIR is left as it was.
download() {
  local dest=$1 path url err want got
  mkdir -p "$(dirname "$dest")" 2>/dev/null && tmp=$(mktemp -d "$dest.download.XXXXXX" 2>/dev/null) ||
    fail "cannot write beside $dest for the CRD fixtures: set OADP_STS_CRDS to a writable directory"
  echo "downloading the $(wc -l <"$sums" | tr -d ' ') pinned CRD fixtures (about 700 KiB) from $mirror into $dest" >&2
  while read -r path url; do
    mkdir -p "$tmp/$(dirname "$path")"
    if ! err=$(curl -fsSL --connect-timeout 10 --max-time 60 --retry 2 -o "$tmp/$path" "$mirror/$url" 2>&1); then
      fail "cannot download the CRD fixtures (${err//$'\n'/ }, for $mirror/$url): download the files 'hack/crds.sh sources' lists from $mirror into $dest as hack/crds.sha256 names them, or set OADP_STS_CRDS to a directory that holds them"
    fi
  done < <(sources)
  while read -r want path; do
    [ -f "$tmp/$path" ] || fail "hack/crds.sha256 lists $path, which 'hack/crds.sh sources' does not download: add its source"
    got=$(sha256 "$tmp/$path" | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "$path from $mirror does not match hack/crds.sha256 (sha256 $got, want $want): nothing was written to $dest"
  done <"$sums"
  while read -r want path; do
    mkdir -p "$dest/$(dirname "$path")"
    mv -f "$tmp/$path" "$dest/$path"
  done <"$sums"
  echo "CRD fixtures in $dest, checked against hack/crds.sha256" >&2
}

# verified DIR: every fixture there has its listed checksum.
verified() { (cd "$1" && sha256 -c --quiet "$sums" >/dev/null 2>&1); }

ensure() {
  local d=${OADP_STS_CRDS:-$(dir)}
  # A directory found or named is used as it is; the cache is ours, so a file
  # there that no longer matches the list (an older pin) is downloaded again.
  if has "$d" && { [ "$d" != "$cache" ] || verified "$d"; }; then
    echo "CRD fixtures in $d" >&2
    return 0
  fi
  download "$d"
}

case "${1:-}" in
  dir) dir ;;
  ensure) ensure ;;
  sources) sources ;;
  *) fail "usage: hack/crds.sh dir|ensure|sources" ;;
esac
