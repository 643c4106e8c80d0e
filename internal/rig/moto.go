package rig

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// motoCommand finds a Python that has moto: moto_server, else python3 -m
// moto.server. The system Python often lacks moto, so each is tried.
func motoCommand() ([]string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return []string{p}, nil
	}
	for _, py := range []string{"python3", "python"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import moto.server").Run() == nil {
			return []string{p, "-m", "moto.server"}, nil
		}
	}
	return nil, &MissingError{What: "moto (the AWS emulator)", Fix: "pip install 'moto[server]==5.2.1' into the python3 on PATH"}
}

func (r *Rig) startMoto(ctx context.Context) error {
	argv, err := motoCommand()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	r.AWSEndpoint = "http://127.0.0.1:" + itoa(port)
	args := append(argv[1:], "-H", "127.0.0.1", "-p", itoa(port))
	p, err := r.start("moto", argv[0], args, []string{"MOTO_ALLOW_NONEXISTENT_REGION=true",
		// The recorder writes here, not into the test package's directory.
		"MOTO_RECORDER_FILEPATH=" + filepath.Join(r.Dir, "moto_recording")})
	if err != nil {
		return err
	}
	r.moto = p
	if err := waitHTTP(ctx, p, http.DefaultClient, r.AWSEndpoint+"/moto-api/data.json", 60*time.Second, func(resp *http.Response) bool { return resp.StatusCode == 200 }); err != nil {
		return err
	}
	return r.CreateOIDCProvider(ctx)
}

// AWSConfig is an SDK configuration pointed at moto, for tests to read state back.
func (r *Rig) AWSConfig() aws.Config {
	return aws.Config{
		Region:       r.Identity.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(r.AWSEndpoint),
	}
}

// IAM is an IAM client on moto.
func (r *Rig) IAM() *iam.Client { return iam.NewFromConfig(r.AWSConfig()) }

// S3 is an S3 client on moto (path-style, as moto needs).
func (r *Rig) S3() *s3.Client {
	return s3.NewFromConfig(r.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
}

// OIDCProviderARN is the ARN of the default rig's OIDC provider in moto.
func OIDCProviderARN() string { return DefaultIdentity().OIDCProviderARN() }

// CreateOIDCProvider registers the cluster's issuer in IAM, as ccoctl does.
func (r *Rig) CreateOIDCProvider(ctx context.Context) error {
	_, err := r.IAM().CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url:            aws.String(r.Identity.Issuer()),
		ClientIDList:   []string{"openshift"},
		ThumbprintList: []string{Thumbprint},
	})
	if err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		return fmt.Errorf("create the rig's OIDC provider: %w", err)
	}
	return nil
}

// ResetAWS empties moto (every account, service and region) and recreates
// the OIDC provider: a fresh account for the next test.
func (r *Rig) ResetAWS(ctx context.Context) error {
	if err := r.motoPost(ctx, "/moto-api/reset"); err != nil {
		return err
	}
	return r.CreateOIDCProvider(ctx)
}

// AWSRequest is one call moto recorded.
type AWSRequest struct {
	Method string
	Path   string
	// Action is the IAM/STS Query action ("CreateRole"), or for S3 the method
	// and path ("PUT /bucket").
	Action string
	// Region is the region the request was signed for (its SigV4 credential
	// scope): the region the plugin's AWS client used.
	Region string
}

// Mutating reports whether the request changes state.
func (a AWSRequest) Mutating() bool {
	if a.Method == http.MethodGet || a.Method == http.MethodHead {
		return false
	}
	for _, p := range []string{"Get", "List", "Describe", "AssumeRole"} {
		if strings.HasPrefix(a.Action, p) {
			return false
		}
	}
	return a.Action != "" || a.Method != http.MethodPost
}

// RecordAWS starts recording AWS requests; the returned func stops and
// returns them. Recording is global to moto, so tests using it do not run in
// parallel.
func (r *Rig) RecordAWS(ctx context.Context) (stop func() ([]AWSRequest, error), err error) {
	if err := r.motoPost(ctx, "/moto-api/recorder/reset-recording"); err != nil {
		return nil, err
	}
	if err := r.motoPost(ctx, "/moto-api/recorder/start-recording"); err != nil {
		return nil, err
	}
	return func() ([]AWSRequest, error) {
		if err := r.motoPost(ctx, "/moto-api/recorder/stop-recording"); err != nil {
			return nil, err
		}
		resp, err := http.Get(r.AWSEndpoint + "/moto-api/recorder/download-recording")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return parseRecording(resp.Body)
	}, nil
}

func parseRecording(rd io.Reader) ([]AWSRequest, error) {
	var out []AWSRequest
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec struct {
			Method string          `json:"method"`
			URL    string          `json:"url"`
			Body   json.RawMessage `json:"body"`
			// moto base64-encodes bodies it records as bytes (all SDK v2 query calls).
			BodyEncoded bool              `json:"body_encoded"`
			Headers     map[string]string `json:"headers"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("moto recording: %w", err)
		}
		path := rec.URL
		if i := strings.Index(path, "://"); i >= 0 {
			if j := strings.Index(path[i+3:], "/"); j >= 0 {
				path = path[i+3+j:]
			} else {
				path = "/"
			}
		}
		if strings.HasPrefix(path, "/moto-api") {
			continue
		}
		req := AWSRequest{Method: rec.Method, Path: path, Region: signedRegion(rec.Headers)}
		var body string
		_ = json.Unmarshal(rec.Body, &body)
		if body == "" {
			body = string(rec.Body)
		} else if rec.BodyEncoded {
			if b, err := base64.StdEncoding.DecodeString(body); err == nil {
				body = string(b)
			}
		}
		if i := strings.Index(body, "Action="); i >= 0 {
			a := body[i+len("Action="):]
			if j := strings.IndexByte(a, '&'); j >= 0 {
				a = a[:j]
			}
			req.Action = a
		} else {
			req.Action = rec.Method + " " + strings.SplitN(path, "?", 2)[0]
		}
		out = append(out, req)
	}
	return out, sc.Err()
}

// signedRegion reads the region of a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20261201/us-gov-west-1/sts/aws4_request, ...".
func signedRegion(headers map[string]string) string {
	for k, v := range headers {
		if !strings.EqualFold(k, "Authorization") {
			continue
		}
		_, cred, ok := strings.Cut(v, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(cred, ",")
		if parts := strings.Split(cred, "/"); len(parts) == 5 {
			return parts[2]
		}
	}
	return ""
}

// AuthorizeAWS turns moto's IAM authorization on (every request must be
// signed by an IAM user's key and allowed by its policies, as in AWS) or off
// (any credentials do everything: the rig's default). While it is on, the
// rig's own clients (r.IAM(), r.S3(), Fresh) are refused: turn it off first.
func (r *Rig) AuthorizeAWS(ctx context.Context, on bool) error {
	// moto counts requests and authorizes those after the first N; "inf"
	// is its default, never.
	n := "inf"
	if on {
		n = "0"
	}
	return r.motoPostBody(ctx, "/moto-api/reset-auth", n)
}

func (r *Rig) motoPost(ctx context.Context, path string) error {
	return r.motoPostBody(ctx, path, "")
}

func (r *Rig) motoPostBody(ctx context.Context, path, body string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.AWSEndpoint+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drained for the connection's reuse; the status says what happened
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("moto %s: %s", path, resp.Status)
	}
	return nil
}
