package acm

import (
	"reflect"
	"strings"
	"testing"
)

const where = BackupNamespace + "/" + HintName

// chart is the data the cluster-backup chart writes on an STS hub behind a
// proxy (its keys; the values of a 4.18 hub).
func chart() map[string]string {
	return map[string]string{
		"channel": "stable-1.4", "name": "redhat-oadp-operator", "source": "redhat-operators",
		"sourceNamespace": "openshift-marketplace", "olmVersion": "v0",
		"env_HTTP_PROXY": "http://user:secret@proxy:3128", "env_HTTPS_PROXY": "http://user:secret@proxy:3128", "env_NO_PROXY": "",
	}
}

type chooseCase struct {
	name  string
	data  map[string]string
	given Given
	want  Choice
	lines []string // substrings, one per line, in order
	err   string
}

var chooseCases = []chooseCase{{
	name: "the chart's hint, no flags",
	data: chart(),
	want: Choice{Channel: "stable-1.4", Package: "redhat-oadp-operator", CatalogSource: "redhat-operators", CatalogNamespace: "openshift-marketplace",
		OADPVersion: "1.4", Env: map[string]string{"HTTP_PROXY": "http://user:secret@proxy:3128", "HTTPS_PROXY": "http://user:secret@proxy:3128"}},
	lines: []string{"from configmap " + where + " (left by ACM's cluster-backup chart): channel stable-1.4, package redhat-oadp-operator, catalog source redhat-operators, catalog source namespace openshift-marketplace, env HTTPS_PROXY, HTTP_PROXY"},
}, {
	name:  "flags win, and say over what",
	data:  map[string]string{"channel": "stable-1.4", "source": "redhat-operators"},
	given: Given{Channel: "stable", CatalogSource: "mirror"},
	want:  Choice{Env: map[string]string{}},
	lines: []string{"nothing in it used", "flags over the configmap: --channel stable (the configmap says stable-1.4), --catalog-source mirror (the configmap says redhat-operators)"},
}, {
	name:  "--oadp-version of another channel drops the hint's channel",
	data:  map[string]string{"channel": "stable-1.4"},
	given: Given{OADPVersion: "1.5"},
	want:  Choice{Env: map[string]string{}},
	lines: []string{"--oadp-version 1.5 wins over channel stable-1.4 of configmap " + where + ": channel stable", "nothing in it used"},
}, {
	name:  "--oadp-version of the hint's channel keeps it",
	data:  map[string]string{"channel": "stable"},
	given: Given{OADPVersion: "1.6"},
	want:  Choice{Channel: "stable", Env: map[string]string{}},
	lines: []string{"channel stable"},
}, {
	name:  "the unversioned channel names no version; approval read as OLM spells it",
	data:  map[string]string{"channel": "stable", "installPlanApproval": "automatic"},
	want:  Choice{Channel: "stable", Approval: "Automatic", Env: map[string]string{}},
	lines: []string{"channel stable, install plan approval Automatic"},
}, {
	name:  "olmVersion v1, keys setup does not know, and a ROLEARN the hub cannot know",
	data:  map[string]string{"olmVersion": "v1", "startingCSV": "oadp-operator.v1.4.0", "env_ROLEARN": "arn:aws:iam::1:role/x"},
	want:  Choice{Env: map[string]string{}},
	lines: []string{"nothing in it used", "olmVersion v1", "not used by setup: env_ROLEARN, startingCSV"},
}, {
	name: "a bad channel is refused when used",
	data: map[string]string{"channel": "stable 1.4"},
	err:  `configmap ` + where + `: channel "stable 1.4": a channel name is one word, such as stable or stable-1.4: fix the configmap, or pass --channel`,
}, {
	name:  "a bad channel under --channel is not used, so not refused",
	data:  map[string]string{"channel": "stable 1.4"},
	given: Given{Channel: "stable"},
	want:  Choice{Env: map[string]string{}},
	lines: []string{"nothing in it used"},
}, {
	name: "a bad approval",
	data: map[string]string{"installPlanApproval": "Sometimes"},
	err:  `installPlanApproval "Sometimes": it must be Manual or Automatic: fix the configmap, or pass --approval`,
}, {
	name: "a bad env name",
	data: map[string]string{"env_HTTP=PROXY": "x"},
	err:  `env_HTTP=PROXY "HTTP=PROXY" is not an environment variable name`,
}}

func TestChoose(t *testing.T) {
	for _, tc := range chooseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Choose(tc.given, ParseHint(where, tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v; want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := got.Lines
			got.Lines = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if len(lines) != len(tc.lines) {
				t.Fatalf("lines %q; want %d like %q", lines, len(tc.lines), tc.lines)
			}
			for i, l := range lines {
				if !strings.Contains(l, tc.lines[i]) {
					t.Errorf("line %d %q; want it to hold %q", i, l, tc.lines[i])
				}
				if strings.Contains(l, "secret") {
					t.Errorf("line %q shows an env value", l)
				}
			}
		})
	}
}
