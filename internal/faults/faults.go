// Package faults is a loopback HTTP proxy in front of the AWS emulator that
// misbehaves the way AWS does under load: at a chosen rate it throttles
// (HTTP 400 Throttling for the IAM and STS query APIs, 503 SlowDown for S3),
// fails with a 500, or delays the request. Tests point AWS_ENDPOINT_URL at it.
//
// It can also watch the requests that change state and call a hook after the
// upstream has carried one out, before the client has read the answer: the
// moment an interrupted client is the most confused about what it did.
//
// Beyond faults it models distance and eventual consistency: a per-service
// latency with jitter (so a bench on loopback pays what a laptop far from
// IAM pays), a log of every request's start and end (the bench's critical
// paths are measured from it), bursts of throttling, and STS refusing a role
// for a while after its trust policy was created or changed, as IAM does
// while the change propagates.
package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options set what the proxy does to each request.
type Options struct {
	// Rate is the share of requests that get a fault, 0 to 1.
	Rate float64
	// Throttle, ServerError and Delay weigh the kinds of fault; all zero
	// means equal weights.
	Throttle, ServerError, Delay int
	// DelayFor is how long a delayed request waits before it is forwarded
	// (default 200ms).
	DelayFor time.Duration
	// Seed makes the choice of faulted requests repeatable.
	Seed uint64
	// Latency is added to every request of a service ("iam", "sts", "s3"),
	// before it is forwarded; Jitter is the share of it that varies at
	// random either way (0.1 is plus or minus 10%).
	Latency map[string]time.Duration
	Jitter  float64
}

// Upstream says how to reach what the proxy fronts.
type Upstream struct {
	// Service names every request's service ("kube"), for an upstream that
	// is not AWS: its requests carry no SigV4 scope to tell it from.
	Service string
	// Transport reaches the upstream (the API server's TLS and CA).
	Transport http.RoundTripper
}

// Distant is the latency a user far from AWS sees: IAM is one global
// endpoint, STS and S3 are regional.
func Distant() map[string]time.Duration {
	return map[string]time.Duration{"iam": 150 * time.Millisecond, "sts": 60 * time.Millisecond, "s3": 60 * time.Millisecond}
}

// Stats count what the proxy did.
type Stats struct {
	Requests, Throttled, Failed, Delayed, Refused int64
}

// Faulted is the number of requests that got an error answer.
func (s Stats) Faulted() int64 { return s.Throttled + s.Failed }

// Request is what AfterMutating is told of a request.
type Request struct {
	Service string // "iam", "sts", "s3"
	// Action is the query API's Action ("CreateRole"), or for S3 the method
	// and path ("DELETE /bucket").
	Action string
	// N counts the mutating requests carried out, from 1.
	N int
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is the proxy's http://127.0.0.1:<port>.
	URL string

	upstream *url.URL
	rp       *httputil.ReverseProxy
	service  string
	srv      *http.Server
	ln       net.Listener

	mu    sync.Mutex
	opts  Options
	rng   *rand.Rand
	after func(Request)
	log   []Logged
	// throttleNext answers the next requests with throttling errors.
	throttleNext int
	// refuseFor and refusedUntil model IAM propagation: role name to the
	// moment STS starts accepting it.
	refuseFor    time.Duration
	refusedUntil map[string]time.Time

	mutating                                      atomic.Int64
	requests, throttled, failed, delayed, refused atomic.Int64
}

// Logged is one request as the proxy saw it: Start when it arrived, End
// when its answer was sent, both including the modelled latency.
type Logged struct {
	Service, Action string
	Start, End      time.Time
	Code            int
}

// Start listens on a free loopback port and forwards to upstream.
func Start(upstream string, opts Options) (*Proxy, error) {
	return StartFor(upstream, Upstream{}, opts)
}

// StartFor is Start for an upstream that needs its own transport or is not
// AWS. Answers are streamed as they come, so watches pass through.
func StartFor(upstream string, up Upstream, opts Options) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), upstream: u, ln: ln, rp: httputil.NewSingleHostReverseProxy(u), service: up.Service}
	p.rp.FlushInterval = -1
	if up.Transport != nil {
		p.rp.Transport = up.Transport
	}
	p.Set(opts)
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(ln) }() // ErrServerClosed once Close is called; nothing else ends it
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Set changes the faults from the next request on.
func (p *Proxy) Set(opts Options) {
	if opts.Throttle == 0 && opts.ServerError == 0 && opts.Delay == 0 {
		opts.Throttle, opts.ServerError, opts.Delay = 1, 1, 1
	}
	if opts.DelayFor == 0 {
		opts.DelayFor = 200 * time.Millisecond
	}
	p.mu.Lock()
	p.opts = opts
	p.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	p.mu.Unlock()
}

// AfterMutating calls f after the upstream has answered each request that
// changes state, before the answer is passed on; nil stops it. The count in
// Request.N starts again from 1.
func (p *Proxy) AfterMutating(f func(Request)) {
	p.mu.Lock()
	p.after = f
	p.mutating.Store(0)
	p.mu.Unlock()
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{Requests: p.requests.Load(), Throttled: p.throttled.Load(), Failed: p.failed.Load(), Delayed: p.delayed.Load(), Refused: p.refused.Load()}
}

// Log returns the requests since the last ResetLog, in the order they ended.
func (p *Proxy) Log() []Logged {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Logged(nil), p.log...)
}

// ResetLog forgets the logged requests.
func (p *Proxy) ResetLog() {
	p.mu.Lock()
	p.log = nil
	p.mu.Unlock()
}

// ThrottleNext answers the next n requests (the emulator's own API aside)
// with throttling errors, Throttling and RequestLimitExceeded in turn: a
// burst, as IAM sheds one when many calls arrive at once.
func (p *Proxy) ThrottleNext(n int) {
	p.mu.Lock()
	p.throttleNext = n
	p.mu.Unlock()
}

// RefuseNewRoles makes STS refuse AssumeRoleWithWebIdentity for a role with
// AccessDenied for d after a CreateRole or UpdateAssumeRolePolicy of it
// went through this proxy, the way a real trust policy propagates; 0 stops.
func (p *Proxy) RefuseNewRoles(d time.Duration) {
	p.mu.Lock()
	p.refuseFor = d
	if p.refusedUntil == nil || d == 0 {
		p.refusedUntil = map[string]time.Time{}
	}
	p.mu.Unlock()
}

type fault int

const (
	none fault = iota
	throttle
	serverError
	delay
)

func (p *Proxy) pick() (fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.opts
	if o.Rate <= 0 || p.rng.Float64() >= o.Rate {
		return none, 0
	}
	n := p.rng.IntN(o.Throttle + o.ServerError + o.Delay)
	switch {
	case n < o.Throttle:
		return throttle, 0
	case n < o.Throttle+o.ServerError:
		return serverError, 0
	}
	return delay, o.DelayFor
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The emulator's own API (reset, recorder) is never faulted.
	if strings.HasPrefix(req.URL.Path, "/moto-api") {
		p.rp.ServeHTTP(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	svc, action := classify(req, body)
	if p.service != "" {
		svc, action = p.service, req.Method+" "+req.URL.Path
	}
	p.requests.Add(1)
	rec := &logWriter{ResponseWriter: w, code: http.StatusOK}
	w = rec
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.log = append(p.log, Logged{Service: svc, Action: action, Start: start, End: time.Now(), Code: rec.code})
		p.mu.Unlock()
	}()
	if !p.sleep(req, p.latency(svc)) {
		return
	}
	if n := p.takeThrottle(); n > 0 {
		p.throttled.Add(1)
		writeThrottle(w, svc, n)
		return
	}
	if action == "AssumeRoleWithWebIdentity" && p.refusing(body) {
		p.refused.Add(1)
		writeAccessDenied(w)
		return
	}
	switch f, d := p.pick(); f {
	case throttle:
		p.throttled.Add(1)
		writeError(w, svc, true)
		return
	case serverError:
		p.failed.Add(1)
		writeError(w, svc, false)
		return
	case delay:
		p.delayed.Add(1)
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			return
		}
	}
	p.mu.Lock()
	after := p.after
	p.mu.Unlock()
	watchTrust := action == "CreateRole" || action == "UpdateAssumeRolePolicy"
	if (after == nil || !mutating(req.Method, action)) && !watchTrust {
		p.rp.ServeHTTP(w, req)
		return
	}
	buf := &bufferedWriter{header: http.Header{}, code: http.StatusOK}
	p.rp.ServeHTTP(buf, req)
	if buf.code < 300 && watchTrust {
		p.trustChanged(body)
	}
	if buf.code < 300 && after != nil && mutating(req.Method, action) {
		after(Request{Service: svc, Action: action, N: int(p.mutating.Add(1))})
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.code)
	_, _ = w.Write(buf.body.Bytes()) // a client gone away is nothing the proxy can tell
}

// latency is the service's modelled latency for one request, with jitter.
func (p *Proxy) latency(svc string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.opts.Latency[svc]
	if d <= 0 || p.opts.Jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + p.opts.Jitter*(2*p.rng.Float64()-1)))
}

// sleep waits d unless the client goes away first.
func (p *Proxy) sleep(req *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-req.Context().Done():
		return false
	}
}

func (p *Proxy) takeThrottle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.throttleNext <= 0 {
		return 0
	}
	p.throttleNext--
	return p.throttleNext + 1
}

// trustChanged starts the refusal period of the role a CreateRole or
// UpdateAssumeRolePolicy named.
func (p *Proxy) trustChanged(body []byte) {
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("RoleName") == "" {
		return
	}
	p.mu.Lock()
	if p.refuseFor > 0 {
		p.refusedUntil[v.Get("RoleName")] = time.Now().Add(p.refuseFor)
	}
	p.mu.Unlock()
}

// refusing reports whether the role an AssumeRoleWithWebIdentity names is
// still propagating. A role's ARN ends in its name, after its path.
func (p *Proxy) refusing(body []byte) bool {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return false
	}
	arn := v.Get("RoleArn")
	name := arn[strings.LastIndex(arn, "/")+1:]
	p.mu.Lock()
	defer p.mu.Unlock()
	until, ok := p.refusedUntil[name]
	return ok && time.Now().Before(until)
}

// classify names the service from the signature's credential scope and the
// action from the query body or, for S3, the method and path.
func classify(req *http.Request, body []byte) (svc, action string) {
	auth := req.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		scope := strings.Split(strings.SplitN(auth[i+len("Credential="):], ",", 2)[0], "/")
		if len(scope) >= 4 {
			svc = scope[3]
		}
	}
	if svc != "s3" {
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			return svc, v.Get("Action")
		}
	}
	if svc == "s3" {
		return svc, s3Action(req)
	}
	return svc, req.Method + " " + req.URL.Path
}

// s3Subresources name the bucket operations by the query key that selects
// them, as the S3 API reference does (PUT ?tagging is PutBucketTagging).
var s3Subresources = map[string]string{
	"publicAccessBlock": "PublicAccessBlock", "encryption": "BucketEncryption", "tagging": "BucketTagging",
	"versioning": "BucketVersioning", "location": "BucketLocation", "policy": "BucketPolicy", "acl": "BucketAcl",
	"lifecycle": "BucketLifecycleConfiguration", "ownershipControls": "BucketOwnershipControls",
}

// s3Action names a path-style S3 request by its operation, so a chain
// reads CreateBucket > PutBucketTagging rather than PUT /b > PUT /b; what it
// does not know stays the method and path.
func s3Action(req *http.Request) string {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	q := req.URL.Query()
	verb := map[string]string{http.MethodGet: "Get", http.MethodPut: "Put", http.MethodDelete: "Delete"}[req.Method]
	switch {
	case bucket == "" && req.Method == http.MethodGet:
		return "ListBuckets"
	case key != "":
		if v := map[string]string{http.MethodGet: "GetObject", http.MethodPut: "PutObject", http.MethodDelete: "DeleteObject", http.MethodHead: "HeadObject"}[req.Method]; v != "" {
			return v
		}
	case req.Method == http.MethodPost && q.Has("delete"):
		return "DeleteObjects"
	case req.Method == http.MethodGet && q.Has("versions"):
		return "ListObjectVersions"
	case req.Method == http.MethodGet && q.Has("uploads"):
		return "ListMultipartUploads"
	}
	if key == "" {
		for sub, name := range s3Subresources {
			if q.Has(sub) && verb != "" {
				return verb + name
			}
		}
		switch req.Method {
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodGet:
			if q.Get("list-type") == "2" {
				return "ListObjectsV2"
			}
			return "ListObjects"
		}
	}
	return req.Method + " " + req.URL.Path
}

func mutating(method, action string) bool {
	if method == http.MethodGet || method == http.MethodHead {
		return false
	}
	for _, p := range []string{"Get", "List", "Describe", "AssumeRole"} {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	return true
}

// writeError answers as the service does when it sheds load or breaks.
func writeError(w http.ResponseWriter, svc string, throttled bool) {
	id := fmt.Sprintf("faults-%d", time.Now().UnixNano())
	if svc == "s3" {
		code, status, msg := "InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."
		if throttled {
			code, status, msg = "SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate."
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, id)
		return
	}
	code, status, typ, msg := "ServiceFailure", http.StatusInternalServerError, "Receiver", "Request processing has failed due to some unknown error, exception or failure."
	if throttled {
		code, status, typ, msg = "Throttling", http.StatusBadRequest, "Sender", "Rate exceeded"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, typ, code, msg, id)
}

// writeThrottle answers the nth request of a burst, alternating the two
// codes IAM and STS use when they shed load.
func writeThrottle(w http.ResponseWriter, svc string, n int) {
	if svc == "s3" || n%2 == 1 {
		writeError(w, svc, true)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error><RequestId>faults-%d</RequestId></ErrorResponse>`, time.Now().UnixNano())
}

// writeAccessDenied answers as STS does while a new role's trust policy has
// not reached the endpoint yet: the same answer as a trust policy that does
// not match, which is why a client cannot tell the two apart at once.
func writeAccessDenied(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>faults-%d</RequestId></ErrorResponse>`, time.Now().UnixNano())
}

// logWriter notes the status code passed on.
type logWriter struct {
	http.ResponseWriter
	code int
}

func (l *logWriter) WriteHeader(code int) { l.code = code; l.ResponseWriter.WriteHeader(code) }

// Flush passes streaming answers on as they come.
func (l *logWriter) Flush() {
	if f, ok := l.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// bufferedWriter holds the upstream's answer until the hook has run.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }

// Front starts a proxy in front of endpoint for the rest of the test and
// points the plugin's AWS endpoint (AWS_ENDPOINT_URL) at it.
func Front(t testing.TB, endpoint string, opts Options) *Proxy {
	t.Helper()
	p, err := Start(endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	t.Setenv("AWS_ENDPOINT_URL", p.URL)
	return p
}
