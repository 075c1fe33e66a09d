#!/usr/bin/env bash
# Makes kubectl available to K8sManifestsTest, which renders every overlay under k8s/overlays
# with `kubectl kustomize` (Kustomize components need kubectl 1.24 or newer). Uses the kubectl
# on PATH; otherwise installs Debian's kubernetes-client when running as root. Where neither
# is possible, or the kubectl found is too old, the test skips itself and says why.
#
# Idempotent; never fails the build. Usage: scripts/install-kubectl.sh
set -uo pipefail

say() { echo "install-kubectl: $*"; }

report() {
  local kustomize
  kustomize="$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')"
  if [ -n "$kustomize" ]; then
    say "kubectl present ($(command -v kubectl), Kustomize $kustomize)"
  else
    say "kubectl $(kubectl version --client 2>/dev/null | head -1) has no Kustomize with"
    say "  components (needs kubectl 1.24+); the manifest test will skip"
  fi
}

if command -v kubectl >/dev/null; then
  report
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "no kubectl: install kubectl 1.24+ (Debian: apt-get install kubernetes-client, if"
  say "  your release ships 1.24+); the manifest test skips until then"
  exit 0
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
say "installing the Debian package kubernetes-client"
# apt's own output names its mirrors: keep it in the log, shown to nobody.
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubernetes-client >"$log" 2>&1; then
  apt-get update -q >"$log" 2>&1 || true
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubernetes-client >"$log" 2>&1; then
    say "apt-get install kubernetes-client failed; the manifest test will skip"
    exit 0
  fi
fi
report
