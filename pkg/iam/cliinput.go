package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// CLIFile is one file of a written plan and the aws command that applies it.
type CLIFile struct {
	Path    string
	Command string
}

// cliTag is a tag as the aws CLI's --cli-input-json spells it.
type cliTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func cliTags(t Tags) []cliTag {
	var out []cliTag
	for _, tg := range t.IAM() {
		out = append(out, cliTag{Key: *tg.Key, Value: *tg.Value})
	}
	return out
}

// WriteCLIInputs writes the plan for an account that has nothing yet as
// numbered files that 'aws iam <command> --cli-input-json file://<file>'
// takes as they are, in the order they must run: for people who may not let
// a tool change IAM. The documents are the API's strings, as the CLI wants.
func WriteCLIInputs(dir string, s *Spec) ([]CLIFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create --output-dir %s: %w", dir, err)
	}
	role := map[string]any{
		"Path":                     s.RolePath,
		"RoleName":                 s.RoleName,
		"AssumeRolePolicyDocument": s.Trust.JSON(),
		"Tags":                     cliTags(s.RoleTags.With(s.OwnerTags)),
	}
	if s.PermissionsBoundary != "" {
		role["PermissionsBoundary"] = s.PermissionsBoundary
	}
	files := []struct {
		name, command string
		body          any
	}{
		{"01-iam-policy-" + s.PolicyName + ".json", "create-policy", map[string]any{
			"PolicyName":     s.PolicyName,
			"PolicyDocument": s.Policy.JSON(),
			"Tags":           cliTags(s.PolicyTags.With(s.OwnerTags)),
		}},
		{"02-iam-role-" + s.RoleName + ".json", "create-role", role},
		{"03-iam-role-policy-attachment.json", "attach-role-policy", map[string]any{
			"RoleName":  s.RoleName,
			"PolicyArn": s.PolicyARN,
		}},
	}
	var out []CLIFile
	for _, f := range files {
		b, err := json.MarshalIndent(f.body, "", "  ")
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", p, err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		out = append(out, CLIFile{Path: p, Command: fmt.Sprintf("aws iam %s --cli-input-json file://%s", f.command, abs)})
	}
	return out, nil
}
