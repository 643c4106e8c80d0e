// Package clusterfacts reads what the plugin needs to know about an OpenShift
// cluster: the facts the manual procedure gathers with `oc get ... -o jsonpath`.
// It only reads.
package clusterfacts

import (
	"cmp"
	"context"
	"errors"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/oadp-sts/kubectl-oadp_sts/pkg/gvr"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/kube"
	"github.com/oadp-sts/kubectl-oadp_sts/pkg/versions"
)

// Facts are the cluster's identity and STS configuration.
type Facts struct {
	// Name is the name used in IAM and bucket names: --cluster-name, else on
	// a hosted control plane the cluster's own name (NameTag), else the
	// infrastructure name.
	Name string `json:"name"`
	// NameFrom says where Name came from: "flag", "resource tag <key>" or
	// "infrastructure name".
	NameFrom           string `json:"nameFrom,omitempty"`
	InfrastructureName string `json:"infrastructureName"`
	ID                 string `json:"id"`
	Version            string `json:"version"`
	Platform           string `json:"platform"`
	Region             string `json:"region"`
	// OIDCIssuer is spec.serviceAccountIssuer as set, with its scheme.
	OIDCIssuer           string `json:"oidcIssuer"`
	CredentialsMode      string `json:"credentialsMode"`
	ControlPlaneTopology string `json:"controlPlaneTopology,omitempty"`
	// NoCloudCredential is true when the cluster has no CloudCredential
	// object: no Cloud Credential Operator runs in it (a hosted control plane
	// before 4.15, or the capability turned off), so nothing serves
	// CredentialsRequests and the credentials mode is unknown rather than Mint.
	NoCloudCredential bool `json:"noCloudCredential,omitempty"`
	// OKD is true on the community distribution, whose catalog has the
	// community OADP package rather than Red Hat's.
	OKD bool `json:"okd,omitempty"`
	// STS is true when the cluster hands out web-identity tokens AWS can
	// trust: credentials mode Manual with an issuer set (the Cloud Credential
	// Operator's own test), or, with no CloudCredential at all, an AWS hosted
	// control plane (topology External) with an issuer.
	STS bool `json:"sts"`
}

// HostedControlPlane reports whether the control plane runs outside the
// cluster (ROSA with hosted control planes, HyperShift).
func (f *Facts) HostedControlPlane() bool { return f.ControlPlaneTopology == "External" }

// NameTag is the Infrastructure resource tag that carries a ROSA cluster's
// own name. On hosted control planes the infrastructure name is the 32
// character cluster ID, which leaves no room in a 64-character role name.
const NameTag = "api.openshift.com/name"

// IssuerHost strips the scheme and any trailing slash from an issuer URL. The
// provider ARN looked up, the trust keys written and the URL of the
// create-provider hint are all built from it, so they name one string.
func IssuerHost(issuer string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://")
	return strings.TrimSuffix(s, "/")
}

// IssuerTrailingSlash reports an issuer that ends in "/". No Red Hat tool
// makes one, the API server puts it verbatim into every token's iss, and STS
// has been seen not to find a provider created with the slash
// (aws/aws-sam-cli#7432): status refuses it rather than guess.
func IssuerTrailingSlash(issuer string) bool {
	return strings.HasSuffix(issuer, "/") && IssuerHost(issuer) != ""
}

// OADP is what is known about the installed operator.
type OADP struct {
	Installed bool   `json:"installed"`
	Version   string `json:"version,omitempty"`
	CSV       string `json:"csv,omitempty"`
	CSVPhase  string `json:"csvPhase,omitempty"`
}

// ErrNotOpenShift means the config.openshift.io API is missing.
var ErrNotOpenShift = errors.New("this cluster does not serve the config.openshift.io API, so it is not OpenShift: point --kubeconfig/--context at an OpenShift cluster")

// Discover reads ClusterVersion, Infrastructure, Authentication and
// CloudCredential, all at once.
func Discover(ctx context.Context, c dynamic.Interface, clusterName string) (*Facts, error) {
	type read struct {
		r    schema.GroupVersionResource
		name string
		obj  *unstructured.Unstructured
		err  error
	}
	reads := []*read{
		{r: gvr.ClusterVersion, name: "version"},
		{r: gvr.Infrastructure, name: "cluster"},
		{r: gvr.Authentication, name: "cluster"},
		{r: gvr.CloudCredential, name: "cluster"},
	}
	var wg sync.WaitGroup
	for _, rd := range reads {
		wg.Go(func() {
			rd.obj, rd.err = c.Resource(rd.r).Get(ctx, rd.name, metav1.GetOptions{})
		})
	}
	wg.Wait()

	// Report the most fundamental problem first: no cluster, then no
	// OpenShift, then permissions.
	for _, rd := range reads {
		if rd.err != nil && kube.IsUnreachable(rd.err) {
			return nil, kube.Explain(rd.err, rd.r, rd.name)
		}
	}
	for _, rd := range reads[:3] {
		if rd.err != nil && kube.IsTypeMissing(rd.err) {
			return nil, ErrNotOpenShift
		}
	}
	for i, rd := range reads {
		// CloudCredential is optional: clusters without the Cloud Credential
		// Operator capability have no such object.
		if i == 3 && rd.err != nil && apierrors.IsNotFound(rd.err) {
			rd.obj, rd.err = nil, nil
		}
		if rd.err != nil {
			return nil, kube.Explain(rd.err, rd.r, rd.name)
		}
	}

	cv, infra, auth := reads[0].obj.Object, reads[1].obj.Object, reads[2].obj.Object
	f := &Facts{
		ID:                   kube.Str(cv, "spec", "clusterID"),
		Version:              kube.Str(cv, "status", "desired", "version"),
		InfrastructureName:   kube.Str(infra, "status", "infrastructureName"),
		Platform:             kube.Str(infra, "status", "platformStatus", "type"),
		Region:               kube.Str(infra, "status", "platformStatus", "aws", "region"),
		ControlPlaneTopology: kube.Str(infra, "status", "controlPlaneTopology"),
		OIDCIssuer:           kube.Str(auth, "spec", "serviceAccountIssuer"),
	}
	f.Platform = cmp.Or(f.Platform, kube.Str(infra, "status", "platform"))
	if reads[3].obj != nil {
		f.CredentialsMode = kube.Str(reads[3].obj.Object, "spec", "credentialsMode")
	} else {
		f.NoCloudCredential = true
	}
	f.OKD = IsOKD(f.Version, kube.Str(cv, "status", "desired", "image"))
	f.STS = f.CredentialsMode == "Manual" && f.OIDCIssuer != "" ||
		f.NoCloudCredential && f.Platform == "AWS" && f.OIDCIssuer != "" && f.HostedControlPlane()
	f.Name, f.NameFrom = clusterName, "flag"
	if f.Name == "" {
		f.Name, f.NameFrom = f.InfrastructureName, "infrastructure name"
		if tag := resourceTag(infra, NameTag); tag != "" && f.HostedControlPlane() {
			f.Name, f.NameFrom = tag, "resource tag "+NameTag
		}
	}
	return f, nil
}

// IsOKD reports the community distribution from its version ("4.15.0-0.okd-
// 2024-03-10-010116", "4.19.0-okd-scos.4") or its release image.
func IsOKD(version, image string) bool {
	return strings.Contains(version, "okd") || strings.Contains(image, "/openshift/okd")
}

// resourceTag reads one of the Infrastructure's AWS resource tags.
func resourceTag(infra map[string]any, key string) string {
	tags, _, _ := unstructured.NestedSlice(infra, "status", "platformStatus", "aws", "resourceTags")
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok && kube.Str(m, "key") == key {
			return kube.Str(m, "value")
		}
	}
	return ""
}

// DiscoverOADP finds the installed OADP operator in namespace ns: its CSV when
// OLM installed it, else just the presence of its CRD.
func DiscoverOADP(ctx context.Context, c dynamic.Interface, ns string) (*OADP, error) {
	var (
		wg             sync.WaitGroup
		csvs           *unstructured.UnstructuredList
		crd            *unstructured.Unstructured
		csvErr, crdErr error
	)
	wg.Go(func() { csvs, csvErr = c.Resource(gvr.CSV).Namespace(ns).List(ctx, metav1.ListOptions{}) })
	wg.Go(func() { crd, crdErr = c.Resource(gvr.CRD).Get(ctx, gvr.OADPCRDName, metav1.GetOptions{}) })
	wg.Wait()

	o := &OADP{}
	if csvErr == nil {
		if csv := newestOADPCSV(csvs.Items); csv != nil {
			o.Installed = true
			o.CSV = csv.GetName()
			o.Version = kube.Str(csv.Object, "spec", "version")
			o.CSVPhase = kube.Str(csv.Object, "status", "phase")
		}
	} else if !kube.IsTypeMissing(csvErr) && !apierrors.IsForbidden(csvErr) {
		return nil, kube.Explain(csvErr, gvr.CSV, "")
	}
	switch {
	case crdErr == nil && crd.GetDeletionTimestamp() != nil:
		// An operator uninstalled moments ago: its CRD is about to vanish.
	case crdErr == nil:
		o.Installed = true
	case apierrors.IsNotFound(crdErr) || apierrors.IsForbidden(crdErr):
		// Not installed, or we may not read CRDs: the CSV answer stands.
	default:
		return nil, kube.Explain(crdErr, gvr.CRD, gvr.OADPCRDName)
	}
	return o, nil
}

// newestOADPCSV picks the OADP operator's CSV (upstream and Red Hat bundles
// both name it oadp-operator.vX.Y.Z); during an upgrade two exist briefly.
func newestOADPCSV(items []unstructured.Unstructured) *unstructured.Unstructured {
	var found []*unstructured.Unstructured
	for i := range items {
		if strings.HasPrefix(items[i].GetName(), "oadp-operator.") {
			found = append(found, &items[i])
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		return versions.Compare(kube.Str(found[i].Object, "spec", "version"), kube.Str(found[j].Object, "spec", "version")) > 0
	})
	return found[0]
}
