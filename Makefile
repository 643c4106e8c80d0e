# kubectl-oadp_sts. `make help` lists the targets.

MODULE   := github.com/oadp-sts/kubectl-oadp_sts
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X $(MODULE)/pkg/version.Version=$(VERSION) -X $(MODULE)/pkg/version.Commit=$(COMMIT)
GO       ?= go
SHELL    := /bin/bash
BIN      := bin/kubectl-oadp_sts

# The CRD fixtures no Go module carries (OADP 1.3 to 1.5, CLI Manager, ACM):
# ../shared/crds beside the repository (or beside the checkout it was cloned
# from), else the user cache, where `make crds` downloads them once. demo,
# sandbox, test and bench make crds first, so a fresh clone anywhere needs nothing else.
ifndef OADP_STS_CRDS
OADP_STS_CRDS := $(shell hack/crds.sh dir)
endif
export OADP_STS_CRDS

.PHONY: help build test test-unit lint lint-tools rig-tools krew-tools velero-tools sandbox sandbox-env sandbox-stop demo bench crds dist image clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/kubectl-oadp_sts
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-oadp_sts

rig-tools: ## build the test rig's kube-apiserver, kube-controller-manager and etcd (once, cached)
	@hack/rig-tools.sh controlplane >/dev/null

krew-tools: ## build krew and validate-krew-manifest v0.4.3 for the distribution tests (once, cached)
	@hack/rig-tools.sh krew >/dev/null

lint-tools: ## build golangci-lint v2.15.0 for make lint (once, cached)
	@hack/rig-tools.sh golangci-lint >/dev/null

velero-tools: ## build the Velero server v1.18.3 and velero-plugin-for-aws v1.14.3 for the sandbox (once, cached)
	@hack/rig-tools.sh velero >/dev/null

SANDBOX := bin/oadp-sts-sandbox
sandbox: crds rig-tools velero-tools build ## start a local AWS STS cluster with OADP and the real Velero server, in the background
	@$(GO) build -o $(SANDBOX) ./hack/sandbox && $(SANDBOX) start

sandbox-env: ## print the running sandbox's export lines, for eval in a shell
	@$(GO) build -o $(SANDBOX) ./hack/sandbox && $(SANDBOX) env 2>/dev/null | grep '^export '

sandbox-stop: ## stop the sandbox: every process, port and directory
	@$(GO) build -o $(SANDBOX) ./hack/sandbox && $(SANDBOX) stop

demo: crds rig-tools velero-tools build ## the chapter's hello-world backup and restore with the plugin, on a sandbox started and stopped for it
	@$(GO) build -o $(SANDBOX) ./hack/sandbox && hack/demo.sh

test: crds rig-tools krew-tools velero-tools build ## run every test: unit, and integration against the real servers
	@set -o pipefail; $(GO) test -count=1 -timeout 60m -json ./... | $(GO) run ./hack/testreport

test-unit: ## run the tests that need no servers (integration tests skip outside CI)
	$(GO) test -count=1 -short ./...

lint: ## golangci-lint v2.15.0 with .golangci.yml (the linter built once from the Go module proxy, cached)
	@gl=$$(hack/rig-tools.sh golangci-lint)/golangci-lint && $$gl run ./...

# bench needs the aws CLI v1 (pip install awscli), kubectl, and GNU time for peak memory (apt-get install time).
bench: crds rig-tools velero-tools build ## measure the plugin against the manual procedure on the rig, and verify on the sandbox
	$(GO) run ./hack/bench

crds: ## find the CRD fixtures, or download them once (pinned commits, checked against hack/crds.sha256) into the user cache
	@hack/crds.sh ensure

# Release: `make dist VERSION=v0.1.0` builds every platform; the tests build one
# (PLATFORMS=linux/amd64) into a temporary DIST. VERSION must be a semver tag.
DIST             ?= dist
PLATFORMS        ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
RELEASE_URL_BASE ?= https://github.com/oadp-sts/kubectl-oadp_sts/releases/download/$(VERSION)
IMAGE            ?= ghcr.io/oadp-sts/kubectl-oadp_sts:$(VERSION)
CONTAINER_TOOL   ?= podman
dist: ## build the release archives, checksums, krew-manifest.yaml and plugins.yaml into dist/
	$(GO) run ./hack/dist -version '$(VERSION)' -commit '$(COMMIT)' -out '$(DIST)' -platforms '$(PLATFORMS)' \
	  -url-base '$(RELEASE_URL_BASE)' -image '$(IMAGE)'

image: ## build the CLI Manager's plugin image from dist/ (after make dist)
	$(CONTAINER_TOOL) build -f Containerfile -t '$(IMAGE)' .

clean: ## remove build output
	rm -rf bin dist
