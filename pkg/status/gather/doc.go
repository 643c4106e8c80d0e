// Package gather reads what `status` (and verify's chain step) judges: the
// cluster, the OADP namespace's objects, the record of an earlier setup, and
// on an AWS cluster the caller, the OIDC provider, the role, its policies and
// the buckets; then hands it to pkg/status, which decides.
//
// It is split as the project splits I/O: reads (kube.go, aws.go), each
// concurrent and returning its own result as a future, never writing a
// shared value; the decisions between them (decide.go: which names, which
// subscription, which buckets), pure and table-tested; and Gather, which
// waits for the reads and assembles status.Chain. It must not word anything
// (pkg/status and the command do), change anything (except the one
// TokenRequest --assume-role asks for) or build its own clients: it takes
// them as Clients, the AWS ones lazily.
package gather
