package rig

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// Two fleet clusters are two clusters: each context reaches its own API
// server, whose service-account tokens carry its own issuer (the API server's
// word, not the seeded Authentication object's), and the one moto holds an
// OIDC provider for each issuer.
func TestFleetClustersAreDistinct(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := BinDir(); err != nil {
		SkipOrFail(t, err)
	}
	if _, err := StartFleet(ctx, Options{Bare: true}); err == nil {
		t.Fatal("a fleet of no clusters started")
	}
	f, err := StartFleet(ctx, Options{Bare: true}, Identity{}, Identity{})
	if err != nil {
		SkipOrFail(t, err)
	}
	defer f.Stop()
	if got := strings.Join(f.Contexts(), ","); got != "a,b" {
		t.Fatalf("contexts %s, want a,b", got)
	}
	raw, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, name := range f.Contexts() {
		r := f.Rig(name)
		if srv := raw.Clusters[raw.Contexts[name].Cluster].Server; srv != r.APIServerURL {
			t.Errorf("context %s points at %s, want its own API server %s", name, srv, r.APIServerURL)
		}
		iss := tokenIssuer(ctx, t, r)
		if iss != r.Identity.Issuer() {
			t.Errorf("cluster %s signs tokens for %s, want %s", name, iss, r.Identity.Issuer())
		}
		if other, dup := seen[iss]; dup {
			t.Errorf("clusters %s and %s share the issuer %s", other, name, iss)
		}
		seen[iss] = name
		if r.AWSEndpoint != f.AWS().AWSEndpoint {
			t.Errorf("cluster %s uses moto at %s, not the fleet's %s", name, r.AWSEndpoint, f.AWS().AWSEndpoint)
		}
	}
	if f.Rigs[0].Identity.Region == f.Rigs[1].Identity.Region {
		t.Errorf("both clusters are in %s; a fleet's clusters alternate regions", f.Rigs[0].Identity.Region)
	}
	providers, err := f.AWS().IAM().ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{f.Rigs[0].Identity.OIDCProviderARN(): true, f.Rigs[1].Identity.OIDCProviderARN(): true}
	for _, p := range providers.OpenIDConnectProviderList {
		delete(want, *p.Arn)
	}
	if len(want) > 0 {
		t.Errorf("moto lacks the OIDC providers %v", want)
	}
	if f.Env()["AWS_REGION"] != "" {
		t.Errorf("the fleet's environment names a region; each cluster's own should be used")
	}
}

// tokenIssuer asks the API server for a service-account token and reads its iss claim.
func tokenIssuer(ctx context.Context, t *testing.T, r *Rig) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"}}
	if _, err := r.Kube.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := r.Kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, "probe", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.Status.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Iss
}
