#!/usr/bin/env bash
# make demo: the chapter's hello-world backup and restore, run with the plugin's
# own commands on a sandbox (internal/sandbox) started for it and stopped at the
# end, on failure and on Ctrl-C. Every command is printed before it runs, so the
# output reads as the walkthrough a user follows on a real cluster.
set -uo pipefail
cd "$(dirname "$0")/.."

SANDBOX=${SANDBOX:-bin/oadp-sts-sandbox}
# A state directory of its own: the demo never touches a `make sandbox`.
OADP_STS_SANDBOX_STATE=$(mktemp -d -t oadp-sts-demo-XXXXXX)
export OADP_STS_SANDBOX_STATE
if [ -t 1 ]; then bold=$'\e[1m' dim=$'\e[2m' red=$'\e[31m' off=$'\e[0m'; else bold= dim= red= off=; fi

started=$(date +%s)
failed=
stop() {
  if [ -n "$failed" ] && [ -f "$OADP_STS_SANDBOX_STATE/dir" ]; then
    dir=$(cat "$OADP_STS_SANDBOX_STATE/dir")
    for log in velero stand-in; do
      echo "${dim}--- the end of the sandbox's $log.log:${off}"
      tail -n 15 "$dir/sandbox/$log.log" 2>/dev/null
    done
  fi
  echo
  echo "${dim}Stopping the sandbox.${off}"
  "$SANDBOX" stop >/dev/null 2>&1
  rm -rf "$OADP_STS_SANDBOX_STATE"
}
trap stop EXIT
trap 'failed=interrupted; echo; echo "${red}Interrupted.${off}"; exit 130' INT TERM

say() { printf '\n%s# %s%s\n' "$bold" "$*" "$off"; }
run() {
  printf '%s$ %s%s\n' "$bold" "$*" "$off"
  "$@"
  local rc=$?
  if [ $rc -ne 0 ]; then
    failed="'$*' exited $rc"
    echo "${red}demo failed: $failed${off}"
    exit 1
  fi
}

say "A sandbox: a local OpenShift-on-AWS-STS stand-in (kube-apiserver, moto for IAM/STS/S3,
# OADP 1.4 shown as installed, a stand-in for the OADP operator) and the real Velero server."
env=$("$SANDBOX" start) || { failed="the sandbox did not start"; exit 1; }
eval "$(grep '^export ' <<<"$env")"
echo "${dim}KUBECONFIG and AWS_* now point at the sandbox; on a real cluster, log in with 'oc login' and set AWS_PROFILE.${off}"

say "1. Check that the cluster is an AWS STS cluster the plugin can set OADP up on."
run kubectl oadp-sts status

say "2. Set up OADP: the bucket (made and hardened by setup), the IAM policy scoped to it and the role,
# the credentials secret and the DataProtectionApplication; wait until Velero can use the bucket."
run kubectl oadp-sts setup --yes

say "3. The chapter's workload: hello-openshift in the hello-world namespace."
run kubectl create namespace hello-world
run kubectl -n hello-world create deployment hello-openshift --image=docker.io/openshift/hello-openshift --port=8080
run kubectl -n hello-world expose deployment hello-openshift --port=8080
run kubectl -n hello-world get deployments,services

say "4. Back it up, and wait until Velero has written it to the bucket."
run kubectl oadp-sts backup hello-world

say "5. Lose the namespace."
run kubectl delete namespace hello-world --wait=true --timeout=2m

say "6. Restore it from the backup."
run kubectl oadp-sts restore hello-world
run kubectl -n hello-world get deployments,services
run kubectl oadp-sts get backups

say "7. Clean up: the workload, backups, DPA, bucket, operator, CRDs, namespace, IAM role and policy."
run kubectl oadp-sts cleanup --workload hello-world --yes

say "Done in $(($(date +%s) - started))s. On a real cluster the same commands do the same."
