package rig

import "syscall"

// sysProcAttr puts each server in its own process group and has the kernel kill
// it if the test binary dies, so no server outlives the tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
