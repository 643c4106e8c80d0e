package completion_test

import (
	"strings"
	"testing"

	"github.com/oadp-sts/kubectl-oadp_sts/internal/clitest"
)

func TestScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "complete -o default -F __start_kubectl-oadp_sts kubectl-oadp_sts",
		"zsh":        "#compdef kubectl-oadp_sts",
		"fish":       "complete -c kubectl-oadp_sts",
		"powershell": "Register-ArgumentCompleter -CommandName 'kubectl-oadp_sts'",
	} {
		res := clitest.Run(t, "completion", shell)
		if res.Code != 0 || !strings.Contains(res.Stdout, marker) {
			t.Errorf("completion %s: exit %d, stdout lacks %q", shell, res.Code, marker)
		}
	}
}

// Help speaks of the plugin the way users type it.
func TestHelpNamesThePlugin(t *testing.T) {
	res := clitest.Run(t, "completion", "zsh", "--help")
	for _, want := range []string{"kubectl oadp-sts completion zsh", "source <(kubectl oadp-sts completion zsh)"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("completion zsh --help lacks %q:\n%s", want, res.Stdout)
		}
	}
	if res := clitest.Run(t, "completion", "--help"); !strings.Contains(res.Stdout, "kubectl_complete-oadp_sts") {
		t.Errorf("completion --help does not say how kubectl completes the plugin:\n%s", res.Stdout)
	}
}
