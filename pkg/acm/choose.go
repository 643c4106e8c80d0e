package acm

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/manifests"
)

// Given are the flags the hint can stand in for, "" for one not given on
// the command line (a flag's default is not an answer).
type Given struct {
	Channel          string
	Package          string
	CatalogSource    string
	CatalogNamespace string
	Approval         string
	OADPVersion      string
}

// Choice is what the hint adds to the Subscription; "" leaves a field to
// setup's flag or default.
type Choice struct {
	Channel          string
	Package          string
	CatalogSource    string
	CatalogNamespace string
	Approval         string
	// OADPVersion is the minor version the hint's channel names
	// (stable-1.4 names 1.4), when --oadp-version was not given: ACM's docs
	// tell the admin to take the OADP version to install from the hint.
	OADPVersion string
	Env         map[string]string
	// Lines say what came from the hint, what a flag overrode, and what
	// setup does not use; values of env are never in them.
	Lines []string
}

var versionedChannel = regexp.MustCompile(`^stable-(1\.[0-9]+)$`)

// field is one Subscription field the hint and a flag both may set.
type field struct {
	key, flag, what string
	given, hinted   string
	out             *string
	// overruled: another flag decides this field (the channel of --oadp-version).
	overruled bool
}

// Choose weighs the hint against the flags: a flag given wins, and a line
// says so; otherwise the hint's value is used. A value the hint gets wrong is
// refused only when it would be used, naming the key and the flag that
// stands in for it.
func Choose(g Given, h Hint) (Choice, error) {
	c := Choice{Env: h.Env}
	fields := []field{
		{KeyChannel, "--channel", "channel", g.Channel, h.Channel, &c.Channel, false},
		{KeyPackage, "--package", "package", g.Package, h.Package, &c.Package, false},
		{KeySource, "--catalog-source", "catalog source", g.CatalogSource, h.Source, &c.CatalogSource, false},
		{KeySourceNamespace, "--catalog-source-namespace", "catalog source namespace", g.CatalogNamespace, h.SourceNamespace, &c.CatalogNamespace, false},
		{KeyApproval, "--approval", "install plan approval", g.Approval, h.Approval, &c.Approval, false},
	}
	// A version asked for by flag has its own channel; the hint's, made for
	// another version, would not carry it.
	if g.Channel == "" && g.OADPVersion != "" && h.Channel != "" && manifests.DefaultChannel(g.OADPVersion) != h.Channel {
		c.Lines = append(c.Lines, fmt.Sprintf("--oadp-version %s wins over channel %s of configmap %s: channel %s",
			g.OADPVersion, h.Channel, h.Where, manifests.DefaultChannel(g.OADPVersion)))
		fields[0].overruled = true
	}
	var used, overridden []string
	for _, f := range fields {
		why, bad := h.Bad[f.key]
		switch {
		case f.overruled:
		case f.given != "":
			if f.hinted != "" && f.hinted != f.given {
				overridden = append(overridden, fmt.Sprintf("%s %s (the configmap says %s)", f.flag, f.given, f.hinted))
			}
		case bad:
			return Choice{}, fmt.Errorf("configmap %s: %s %s: fix the configmap, or pass %s", h.Where, f.key, why, f.flag)
		case f.hinted != "":
			*f.out = f.hinted
			used = append(used, f.what+" "+f.hinted)
		}
	}
	if m := versionedChannel.FindStringSubmatch(c.Channel); m != nil && g.OADPVersion == "" {
		c.OADPVersion = m[1]
	}
	for key, why := range h.Bad {
		if strings.HasPrefix(key, envPrefix) {
			return Choice{}, fmt.Errorf("configmap %s: %s %s: fix the key's name in the configmap", h.Where, key, why)
		}
	}
	if names := h.envNames(); len(names) > 0 {
		used = append(used, "env "+strings.Join(names, ", "))
	}
	if len(used) > 0 {
		c.Lines = append(c.Lines, fmt.Sprintf("from configmap %s (left by ACM's cluster-backup chart): %s", h.Where, strings.Join(used, ", ")))
	} else {
		c.Lines = append(c.Lines, fmt.Sprintf("configmap %s: nothing in it used", h.Where))
	}
	if len(overridden) > 0 {
		c.Lines = append(c.Lines, "flags over the configmap: "+strings.Join(overridden, ", "))
	}
	if h.OLMVersion == "v1" {
		c.Lines = append(c.Lines, fmt.Sprintf("configmap %s asks for olmVersion v1 (a ClusterExtension): setup subscribes through OLM v0, and ACM's backup waits only for OADP's CRDs", h.Where))
	}
	if len(h.Unused) > 0 {
		c.Lines = append(c.Lines, fmt.Sprintf("configmap %s: not used by setup: %s", h.Where, strings.Join(h.Unused, ", ")))
	}
	return c, nil
}

// AbsentLine is what setup says in ACM's namespace without the hint.
func AbsentLine(ns string) string {
	return fmt.Sprintf("no configmap %s in %s: ACM's cluster-backup chart normally leaves it on an STS hub (MultiClusterHub with cluster-backup enabled) with the channel and env for OADP; using setup's defaults",
		HintName, ns)
}

// InstalledLine is what setup says when the operator is already there: the
// hint is about a Subscription setup does not make.
func InstalledLine(h Hint) string {
	return fmt.Sprintf("configmap %s not used: OADP is installed already, and setup makes no Subscription", h.Where)
}
