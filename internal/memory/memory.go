// Package memory gives memory the process no longer needs back to the system.
package memory

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// Trim returns freed heap to the system and drops the pages of the executable that
// start-up touched once (init functions, flag parsing, certificate generation) so that
// only the code the running process keeps using stays resident. The executable's
// pages stay in the page cache, so what is needed again comes back without disk I/O;
// read-ahead is turned off for the executable so that such a fault brings back one
// page, not its neighbours.
func Trim() {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		// Only read-only mappings (code and constants): writable ones hold data.
		if err1 != nil || err2 != nil || strings.Contains(fields[1], "w") {
			continue
		}
		madvise(uintptr(start), uintptr(end-start), syscall.MADV_RANDOM)
		madvise(uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}

func madvise(addr, length uintptr, advice int) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, length, uintptr(advice))
}
