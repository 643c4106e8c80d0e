package sandbox

import "syscall"

// sysProcAttr gives Velero a process group of its own (its plugins join it, so
// one kill ends them all) and has the kernel kill it if the sandbox dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
