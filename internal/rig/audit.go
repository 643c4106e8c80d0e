package rig

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
)

// KubeRequest is one request the API server's audit log recorded.
type KubeRequest struct {
	Verb      string
	UserAgent string
	Resource  string
	Namespace string
	Name      string
	// RequestURI is the path and query, e.g. with ?dryRun=All.
	RequestURI string
	// BodyDryRun is a delete's DeleteOptions.dryRun (deletes are logged
	// with their body, where client-go puts it).
	BodyDryRun []string
}

// DryRun reports whether the request was sent with dryRun=All.
func (k KubeRequest) DryRun() bool {
	return strings.Contains(k.RequestURI, "dryRun=All") || slices.Contains(k.BodyDryRun, "All")
}

// Mutating reports whether the request could change state.
func (k KubeRequest) Mutating() bool {
	switch k.Verb {
	case "get", "list", "watch":
		return false
	}
	return true
}

// RecordKube marks the audit log's current end; the returned func reads the
// requests made since, by clients whose user agent starts with prefix
// ("kubectl-oadp_sts/" for the plugin).
func (r *Rig) RecordKube(prefix string) func() ([]KubeRequest, error) {
	var offset int64
	if st, err := os.Stat(r.AuditLog); err == nil {
		offset = st.Size()
	}
	return func() ([]KubeRequest, error) { return readAudit(r.AuditLog, offset, prefix) }
}

func readAudit(path string, offset int64, prefix string) ([]KubeRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var out []KubeRequest
	started := map[string]bool{} // audit IDs of watches already counted
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			AuditID   string `json:"auditID"`
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			Stage     string `json:"stage"`
			URI       string `json:"requestURI"`
			Body      struct {
				DryRun []string `json:"dryRun"`
			} `json:"requestObject"`
			ObjectRef struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || !strings.HasPrefix(ev.UserAgent, prefix) || !counted(ev.Verb, ev.Stage, ev.AuditID, started) {
			continue
		}
		out = append(out, KubeRequest{Verb: ev.Verb, UserAgent: ev.UserAgent, Resource: ev.ObjectRef.Resource, Namespace: ev.ObjectRef.Namespace, Name: ev.ObjectRef.Name, RequestURI: ev.URI, BodyDryRun: ev.Body.DryRun})
	}
	return out, sc.Err()
}

// counted picks one audit event per request: a watch once it starts, since
// it may run for as long as the test looks (or once it ends, for a watch
// refused before it started); anything else once it is answered.
func counted(verb, stage, auditID string, started map[string]bool) bool {
	switch {
	case verb != "watch":
		return stage == "ResponseComplete"
	case stage == "ResponseStarted":
		started[auditID] = true
		return true
	}
	return stage == "ResponseComplete" && !started[auditID]
}
