package cmdutil

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Confirm asks a yes/no question on out and reads the answer from in. Only
// "y" or "yes" agree; anything else, or end of input, declines.
func Confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N]: ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
