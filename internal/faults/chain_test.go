package faults

import (
	"testing"
	"time"
)

func TestCriticalPath(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(svc, action string, from, to int) Logged {
		return Logged{Service: svc, Action: action, Start: t0.Add(time.Duration(from) * time.Millisecond), End: t0.Add(time.Duration(to) * time.Millisecond)}
	}
	cases := []struct {
		name string
		log  []Logged
		want []string
	}{
		{"empty", nil, nil},
		{"one", []Logged{at("sts", "GetCallerIdentity", 0, 60)}, []string{"GetCallerIdentity"}},
		{"overlapping reads count once", []Logged{
			at("sts", "GetCallerIdentity", 0, 60), at("iam", "GetRole", 1, 151),
			at("iam", "GetPolicy", 152, 300), at("iam", "GetOpenIDConnectProvider", 153, 305),
		}, []string{"GetRole", "GetOpenIDConnectProvider"}},
		{"a strict sequence", []Logged{
			at("sts", "GetCallerIdentity", 0, 60), at("iam", "GetOpenIDConnectProvider", 61, 210),
			at("iam", "GetRole", 211, 360), at("iam", "CreateRole", 361, 510), at("iam", "AttachRolePolicy", 511, 660),
		}, []string{"GetCallerIdentity", "GetOpenIDConnectProvider", "GetRole", "CreateRole", "AttachRolePolicy"}},
		{"a request starting before the other ends does not wait on it", []Logged{
			at("iam", "A", 0, 150), at("iam", "B", 149, 300), at("iam", "C", 301, 450),
		}, []string{"B", "C"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CriticalPath(c.log)
			if len(got) != len(c.want) {
				t.Fatalf("chain %v, want %v", actions(got), c.want)
			}
			for i := range got {
				if got[i].Action != c.want[i] {
					t.Fatalf("chain %v, want %v", actions(got), c.want)
				}
			}
		})
	}
	chain := CriticalPath([]Logged{at("sts", "GetCallerIdentity", 0, 60), at("iam", "GetRole", 61, 211)})
	if f := Floor(chain, Distant()); f != 210*time.Millisecond {
		t.Errorf("floor %s, want 210ms (60 STS + 150 IAM)", f)
	}
}

// Where a longer chain of quick requests and a shorter one of slow ones
// ran side by side, CriticalPath counts the first and HeaviestPath weighs
// the second: the floor of the wall time is the slow chain's.
func TestHeaviestPath(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(svc, action string, from, to int) Logged {
		return Logged{Service: svc, Action: action, Start: t0.Add(time.Duration(from) * time.Millisecond), End: t0.Add(time.Duration(to) * time.Millisecond)}
	}
	log := []Logged{
		at("sts", "GetCallerIdentity", 0, 60),
		at("kube", "GET a", 61, 86), at("kube", "GET b", 87, 112), at("kube", "GET c", 113, 138),
		at("iam", "GetRole", 61, 211),
		at("iam", "CreateRole", 212, 362),
	}
	if got := actions(CriticalPath(log)); len(got) != 5 || got[1] != "GET a" {
		t.Errorf("critical path %v, want the identity, the three kube GETs and CreateRole", got)
	}
	heavy := HeaviestPath(log, Distant())
	if got := actions(heavy); len(got) != 3 || got[1] != "GetRole" || got[2] != "CreateRole" {
		t.Errorf("heaviest path %v, want GetCallerIdentity > GetRole > CreateRole", got)
	}
	if f := Floor(heavy, Distant()); f != 360*time.Millisecond {
		t.Errorf("its floor %s, want 360ms", f)
	}
}

func actions(l []Logged) []string {
	var out []string
	for _, q := range l {
		out = append(out, q.Action)
	}
	return out
}
