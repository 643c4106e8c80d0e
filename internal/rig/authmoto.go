package rig

import (
	"context"
	"net/http"
	"path/filepath"
	"time"
)

// StartAuthorizingMoto starts a second, empty moto that evaluates IAM
// policies: after freeActions unauthenticated AWS requests (enough to make a
// user, its key, a policy and buckets with the "testing" key) every request
// must be signed by a known access key and is allowed or denied by moto's own
// policy evaluation (moto's INITIAL_NO_AUTH_ACTION_COUNT). The rig's main
// moto stays without authorization, since the plugin's tests sign with keys
// moto's IAM does not know. It stops with the rig, or with stop.
func (r *Rig) StartAuthorizingMoto(ctx context.Context, freeActions int) (endpoint string, stop func(), err error) {
	argv, err := motoCommand()
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	endpoint = "http://127.0.0.1:" + itoa(port)
	p, err := r.start("moto-auth-"+itoa(port), argv[0], append(argv[1:], "-H", "127.0.0.1", "-p", itoa(port)), []string{
		"MOTO_ALLOW_NONEXISTENT_REGION=true",
		"INITIAL_NO_AUTH_ACTION_COUNT=" + itoa(freeActions),
		"MOTO_RECORDER_FILEPATH=" + filepath.Join(r.Dir, "moto_auth_recording"),
		// A test's UseEnv sets AWS_PROFILE="", which moto's own botocore
		// refuses when it renders an error.
		"-AWS_PROFILE", "-AWS_CONFIG_FILE",
	})
	if err != nil {
		return "", nil, err
	}
	if err := waitHTTP(ctx, p, http.DefaultClient, endpoint+"/moto-api/data.json", 60*time.Second, func(resp *http.Response) bool { return resp.StatusCode == 200 }); err != nil {
		p.stop()
		return "", nil, err
	}
	return endpoint, p.stop, nil
}
