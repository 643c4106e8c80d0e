@echo off
rem kubectl (1.26+) runs this when completing "kubectl oadp-sts ..."; the plugin answers.
kubectl-oadp_sts.exe __complete %*
