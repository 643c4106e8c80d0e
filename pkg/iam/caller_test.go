package iam_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/awsclient"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/bucket"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/iam"
)

// Every AWS operation the plugin's clients can make with the user's
// credentials needs an action in the user's policy: an operation added to
// awsclient's interfaces without one fails here.
func TestCallerPolicyCoversEveryClientOperation(t *testing.T) {
	all, err := iam.CallerActions(iam.CallerCommands...)
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []reflect.Type{
		reflect.TypeFor[awsclient.IAMAPI](), reflect.TypeFor[awsclient.STSAPI](), reflect.TypeFor[awsclient.S3API](),
		reflect.TypeFor[bucket.API](),
	} {
		for i := range api.NumMethod() {
			op := api.Method(i).Name
			if op == "AssumeRoleWithWebIdentity" {
				continue // signed by the service account's token, not the user's keys
			}
			for _, a := range iam.ActionsFor(op) {
				if !slices.Contains(all, a) {
					t.Errorf("%s.%s needs %s, which no command's list in caller.go has", api.Name(), op, a)
				}
			}
		}
	}
}

func TestCallerPolicyPerCommand(t *testing.T) {
	status, err := iam.CallerActions("status")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range status {
		_, action, _ := strings.Cut(a, ":")
		if !strings.HasPrefix(action, "Get") && !strings.HasPrefix(action, "List") {
			t.Errorf("status needs %s: status only reads", a)
		}
	}
	if _, err := iam.CallerActions("backup"); err == nil {
		t.Errorf("backup makes no AWS call with the user's keys, yet has a policy")
	}
	doc, err := iam.CallerPolicy("setup")
	if err != nil || len(doc.Statement) == 0 {
		t.Fatalf("CallerPolicy(setup) = %+v, %v", doc, err)
	}
}
