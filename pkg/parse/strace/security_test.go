package strace

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/event"
)

// TestSecurityCalls checks the security-relevant calls beyond the
// provenance set, success and failure, against lines copied verbatim from
// the captures in testdata (secsys.c run as nobody, in a user namespace,
// and attaching with ptrace; testdata/README.md says how). A failed call
// keeps what it tried: Path, Flags, Proto and Errno.
func TestSecurityCalls(t *testing.T) {
	cases := []struct {
		file, line string
		want       event.Event
	}{
		{"secsys-unpriv.strace", "18206 1796158453.697362 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3<UNIX-STREAM:[46267]>",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "socket", Ret: 3, Target: 0, Errno: "", FD: 3, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.698606 setresuid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.698638 setresgid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresgid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700659 mkdir(\"work\", 0750) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mkdir", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "work", Path2: "", Flags: "", Mode: 0750, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700796 mkdir(\"/etc/faasmon-x\", 0755) = -1 EACCES (Permission denied)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mkdir", Ret: -1, Target: 0, Errno: "EACCES", FD: -1, Path: "/etc/faasmon-x", Path2: "", Flags: "", Mode: 0755, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700834 mkdirat(3</tmp/stcap2/u>, \"work/sub\", 0700) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mkdirat", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/u/work/sub", Path2: "", Flags: "", Mode: 0700, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700878 mkdirat(3</tmp/stcap2/u>, \"work/sub\", 0700) = -1 EEXIST (File exists)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mkdirat", Ret: -1, Target: 0, Errno: "EEXIST", FD: -1, Path: "/tmp/stcap2/u/work/sub", Path2: "", Flags: "", Mode: 0700, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700967 link(\"work/data.txt\", \"work/hard.txt\") = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "link", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "work/data.txt", Path2: "work/hard.txt", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700981 link(\"/etc/shadow\", \"work/shadow-link\") = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "link", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/etc/shadow", Path2: "work/shadow-link", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.700999 linkat(3</tmp/stcap2/u>, \"work/data.txt\", 3</tmp/stcap2/u>, \"work/hard2.txt\", 0) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "linkat", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/u/work/data.txt", Path2: "/tmp/stcap2/u/work/hard2.txt", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701014 linkat(AT_FDCWD</tmp/stcap2/u>, \"/etc/passwd\", 3</tmp/stcap2/u>, \"work/pw-link\", 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "linkat", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/etc/passwd", Path2: "/tmp/stcap2/u/work/pw-link", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701029 symlink(\"/etc/shadow\", \"work/sym-shadow\") = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "symlink", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/etc/shadow", Path2: "work/sym-shadow", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701068 symlink(\"/tmp\", \"/etc/faasmon-sym\") = -1 EACCES (Permission denied)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "symlink", Ret: -1, Target: 0, Errno: "EACCES", FD: -1, Path: "/tmp", Path2: "/etc/faasmon-sym", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701080 symlinkat(\"../data.txt\", 3</tmp/stcap2/u>, \"work/sub/sym2\") = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "symlinkat", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "../data.txt", Path2: "/tmp/stcap2/u/work/sub/sym2", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701120 symlinkat(\"x\", 3</tmp/stcap2/u>, \"nonexistent-dir/sym\") = -1 ENOENT (No such file or directory)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "symlinkat", Ret: -1, Target: 0, Errno: "ENOENT", FD: -1, Path: "x", Path2: "/tmp/stcap2/u/nonexistent-dir/sym", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701147 fchmod(4</tmp/stcap2/u/work/data.txt>, 0755) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "fchmod", Ret: 0, Target: 0, Errno: "", FD: 4, Path: "/tmp/stcap2/u/work/data.txt", Path2: "", Flags: "", Mode: 0755, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701173 fchmod(5</etc/passwd>, 0666) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "fchmod", Ret: -1, Target: 0, Errno: "EPERM", FD: 5, Path: "/etc/passwd", Path2: "", Flags: "", Mode: 0666, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701235 truncate(\"work/data.txt\", 5) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "truncate", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "work/data.txt", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701253 truncate(\"/etc/passwd\", 0) = -1 EACCES (Permission denied)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "truncate", Ret: -1, Target: 0, Errno: "EACCES", FD: -1, Path: "/etc/passwd", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701263 ftruncate(4</tmp/stcap2/u/work/data.txt>, 3) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "ftruncate", Ret: 0, Target: 0, Errno: "", FD: 4, Path: "/tmp/stcap2/u/work/data.txt", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701277 ftruncate(5</etc/passwd>, 0) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "ftruncate", Ret: -1, Target: 0, Errno: "EINVAL", FD: 5, Path: "/etc/passwd", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701288 memfd_create(\"payload\", MFD_CLOEXEC) = 6</memfd:payload>(deleted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "memfd_create", Ret: 6, Target: 0, Errno: "", FD: 6, Path: "/memfd:payload", Path2: "", Flags: "MFD_CLOEXEC", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701336 memfd_create(\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"..., 0) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "memfd_create", Ret: -1, Target: 0, Errno: "EINVAL", FD: -1, Path: "/memfd:nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.701374 sendfile(7<UNIX-STREAM:[46283->46284]>, 9</tmp/stcap2/u/work/hard.txt>, [0] => [3], 100) = 3",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "sendfile", Ret: 3, Target: 0, Errno: "", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "46283", Remote: "46284", Bytes: 3}},
		{"secsys-unpriv.strace", "18206 1796158453.701479 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 11<TCP:[46288]>",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "socket", Ret: 11, Target: 0, Errno: "", FD: 11, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.752839 bind(11<TCP:[46288]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "bind", Ret: 0, Target: 0, Errno: "", FD: 11, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "127.0.0.1:0", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.760284 listen(11<TCP:[127.0.0.1:33271]>, 4) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "listen", Ret: 0, Target: 0, Errno: "", FD: 11, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "127.0.0.1:33271", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.765941 sendfile(12<TCP:[127.0.0.1:45312->127.0.0.1:33271]>, 9</tmp/stcap2/u/work/hard.txt>, [0] => [3], 100) = 3",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "sendfile", Ret: 3, Target: 0, Errno: "", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "127.0.0.1:45312", Remote: "127.0.0.1:33271", Bytes: 3}},
		{"secsys-unpriv.strace", "18206 1796158453.767158 sendfile(12<TCP:[127.0.0.1:45312->127.0.0.1:33271]>, 3</tmp/stcap2/u>, NULL, 100) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "sendfile", Ret: -1, Target: 0, Errno: "EINVAL", FD: 3, Path: "/tmp/stcap2/u", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "127.0.0.1:45312", Remote: "127.0.0.1:33271", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.767204 splice(9</tmp/stcap2/u/work/hard.txt>, [0], 15<pipe:[46301]>, NULL, 100, 0) = 3",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "splice", Ret: 3, Target: 0, Errno: "", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "pipe:[46301]", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 3}},
		{"secsys-unpriv.strace", "18206 1796158453.767268 splice(14<pipe:[46301]>, NULL, 12<TCP:[127.0.0.1:45312->127.0.0.1:33271]>, NULL, 100, 0) = 3",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "splice", Ret: 3, Target: 0, Errno: "", FD: 14, Path: "pipe:[46301]", Path2: "", Flags: "", Mode: 0, Proto: "TCP", Local: "127.0.0.1:45312", Remote: "127.0.0.1:33271", Bytes: 3}},
		{"secsys-unpriv.strace", "18206 1796158453.767289 splice(9</tmp/stcap2/u/work/hard.txt>, NULL, 4</tmp/stcap2/u/work/data.txt>, NULL, 100, 0) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "splice", Ret: -1, Target: 0, Errno: "EINVAL", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "/tmp/stcap2/u/work/data.txt", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.767459 copy_file_range(9</tmp/stcap2/u/work/hard.txt>, NULL, 16</tmp/stcap2/u/work/copy.txt>, NULL, 100, 0) = 3",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "copy_file_range", Ret: 3, Target: 0, Errno: "", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "/tmp/stcap2/u/work/copy.txt", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 3}},
		{"secsys-unpriv.strace", "18206 1796158453.767485 copy_file_range(9</tmp/stcap2/u/work/hard.txt>, NULL, 5</etc/passwd>, NULL, 100, 0) = -1 EBADF (Bad file descriptor)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "copy_file_range", Ret: -1, Target: 0, Errno: "EBADF", FD: 9, Path: "/tmp/stcap2/u/work/hard.txt", Path2: "/etc/passwd", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.767501 socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "socket", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "PACKET", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.767536 socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "socket", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "RAW", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.767558 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 17<UDP:[46308]>",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "socket", Ret: 17, Target: 0, Errno: "", FD: 17, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UDP", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.769635 bind(17<UDP:[46308]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"0.0.0.0\")}, 16) = -1 EACCES (Permission denied)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "bind", Ret: -1, Target: 0, Errno: "EACCES", FD: 17, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UDP", Local: "0.0.0.0:80", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.769687 listen(17<UDP:[46308]>, 1) = -1 EOPNOTSUPP (Operation not supported)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "listen", Ret: -1, Target: 0, Errno: "EOPNOTSUPP", FD: 17, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UDP", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773365 bind(19<UNIX-STREAM:[46318]>, {sa_family=AF_UNIX, sun_path=\"/tmp/stcap2/u/work/ctl.sock\"}, 110) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "bind", Ret: 0, Target: 0, Errno: "", FD: 19, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "/tmp/stcap2/u/work/ctl.sock", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773539 listen(19<UNIX-STREAM:[46318,\"/tmp/stcap2/u/work/ctl.sock\"]>, 1) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "listen", Ret: 0, Target: 0, Errno: "", FD: 19, Path: "/tmp/stcap2/u/work/ctl.sock", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773565 setuid(0)       = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setuid", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773586 setuid(65534)   = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773599 setgid(0)       = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setgid", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773615 setgid(65534)   = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setgid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773625 setreuid(-1, 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setreuid", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "-1, 0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773641 setreuid(-1, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setreuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "-1, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773651 setresuid(0, 0, 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresuid", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "0, 0, 0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773660 setresuid(-1, -1, -1) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "-1, -1, -1", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773669 setresgid(0, 0, 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresgid", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "0, 0, 0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773679 setresgid(-1, -1, -1) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setresgid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "-1, -1, -1", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773688 setfsuid(0)     = 65534",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setfsuid", Ret: 65534, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773698 setfsgid(0)     = 65534",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setfsgid", Ret: 65534, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773706 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_ADMIN, permitted=1<<CAP_SYS_ADMIN, inheritable=0}) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "capset", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "{effective=1<<CAP_SYS_ADMIN, permitted=1<<CAP_SYS_ADMIN, inheritable=0}", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773720 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=0, permitted=0, inheritable=0}) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "capset", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "{effective=0, permitted=0, inheritable=0}", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773808 mount(\"none\", \"/tmp/stcap2/u/mnt\", \"tmpfs\", MS_NOSUID|MS_NODEV, \"size=1m\") = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mount", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/tmp/stcap2/u/mnt", Path2: "none", Flags: "tmpfs MS_NOSUID|MS_NODEV", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773828 mount(\"/etc\", \"/tmp/stcap2/u/mnt\", NULL, MS_BIND|MS_REC, NULL) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "mount", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/tmp/stcap2/u/mnt", Path2: "/etc", Flags: "MS_BIND|MS_REC", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773840 umount2(\"/tmp/stcap2/u/mnt\", MNT_DETACH) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "umount2", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/tmp/stcap2/u/mnt", Path2: "", Flags: "MNT_DETACH", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773852 umount2(\"/\", 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "umount2", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "/", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773899 setns(20<net:[4026531833]>, CLONE_NEWNET) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "setns", Ret: -1, Target: 0, Errno: "EPERM", FD: 20, Path: "net:[4026531833]", Path2: "", Flags: "CLONE_NEWNET", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-unpriv.strace", "18206 1796158453.773968 unshare(CLONE_NEWNS|CLONE_NEWNET) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18206, Syscall: "unshare", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "CLONE_NEWNS|CLONE_NEWNET", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.782953 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3<UNIX-STREAM:[46337]>",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "socket", Ret: 3, Target: 0, Errno: "", FD: 3, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.784236 setresuid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "setresuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.784264 setresgid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "setresgid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.785253 unshare(CLONE_NEWNS|CLONE_NEWUSER|CLONE_NEWNET) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "unshare", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "CLONE_NEWNS|CLONE_NEWUSER|CLONE_NEWNET", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.788804 mkdir(\"/tmp/stcap2/n/mnt\", 0755) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "mkdir", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/n/mnt", Path2: "", Flags: "", Mode: 0755, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.788950 mount(\"none\", \"/tmp/stcap2/n/mnt\", \"tmpfs\", MS_NOSUID|MS_NODEV, \"size=1m\") = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "mount", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/n/mnt", Path2: "none", Flags: "tmpfs MS_NOSUID|MS_NODEV", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.789239 mount(\"/etc\", \"/tmp/stcap2/n/mnt\", NULL, MS_BIND|MS_REC, NULL) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "mount", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/n/mnt", Path2: "/etc", Flags: "MS_BIND|MS_REC", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.789311 umount2(\"/tmp/stcap2/n/mnt\", MNT_DETACH) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "umount2", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/n/mnt", Path2: "", Flags: "MNT_DETACH", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.789440 umount2(\"/\", 0) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "umount2", Ret: -1, Target: 0, Errno: "EINVAL", FD: -1, Path: "/", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.789485 setns(3<net:[4026532179]>, CLONE_NEWNET) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "setns", Ret: 0, Target: 0, Errno: "", FD: 3, Path: "net:[4026532179]", Path2: "", Flags: "CLONE_NEWNET", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.789517 socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) = 4<socket:[46368]>",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "socket", Ret: 4, Target: 0, Errno: "", FD: 4, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "PACKET", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.798096 socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = 5<RAW:[46371]>",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "socket", Ret: 5, Target: 0, Errno: "", FD: 5, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "RAW", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.798154 setuid(0)       = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "setuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "0", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.798166 mount(\"none\", \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "mount", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/", Path2: "none", Flags: "MS_REC|MS_PRIVATE", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.798230 umount2(\"/tmp/stcap2/n/mnt\", 0) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "umount2", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "/tmp/stcap2/n/mnt", Path2: "", Flags: "", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"secsys-userns.strace", "18210 1796158453.798415 unshare(CLONE_NEWUTS) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18210, Syscall: "unshare", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "CLONE_NEWUTS", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.162955 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3<UNIX-STREAM:[44729]>",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "socket", Ret: 3, Target: 0, Errno: "", FD: 3, Path: "", Path2: "", Flags: "", Mode: 0, Proto: "UNIX", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.164247 setresuid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "setresuid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.164278 setresgid(65534, 65534, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "setresgid", Ret: 0, Target: 0, Errno: "", FD: -1, Path: "", Path2: "", Flags: "65534, 65534, 65534", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.175181 ptrace(PTRACE_ATTACH, 1) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "ptrace", Ret: -1, Target: 1, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "PTRACE_ATTACH", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.175279 ptrace(PTRACE_ATTACH, 18211) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "ptrace", Ret: 0, Target: 18211, Errno: "", FD: -1, Path: "", Path2: "", Flags: "PTRACE_ATTACH", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.175517 ptrace(PTRACE_PEEKDATA, 18211, 0x1000, 0x7ffe3e16cfb8) = -1 EIO (Input/output error)",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "ptrace", Ret: -1, Target: 18211, Errno: "EIO", FD: -1, Path: "", Path2: "", Flags: "PTRACE_PEEKDATA", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.175606 ptrace(PTRACE_DETACH, 18211, NULL, 0) = 0",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "ptrace", Ret: 0, Target: 18211, Errno: "", FD: -1, Path: "", Path2: "", Flags: "PTRACE_DETACH", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"ptrace.strace", "18237 1796158454.175686 ptrace(PTRACE_TRACEME) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 18237, Syscall: "ptrace", Ret: -1, Target: 0, Errno: "EPERM", FD: -1, Path: "", Path2: "", Flags: "PTRACE_TRACEME", Mode: 0, Proto: "", Local: "", Remote: "", Bytes: 0}},
		{"setregid.strace", "16647 1796160260.073321 setregid(-1, 0) = -1 EPERM (Operation not permitted)",
			event.Event{Kind: event.KindSyscall, PID: 16647, Syscall: "setregid", Ret: -1, Errno: "EPERM", FD: -1, Flags: "-1, 0"}},
		{"setregid.strace", "16647 1796160260.073386 setregid(-1, 65534) = 0",
			event.Event{Kind: event.KindSyscall, PID: 16647, Syscall: "setregid", FD: -1, Flags: "-1, 65534"}},
		{"io_uring.strace", `28636 1796160429.414011 io_uring_setup(8, {flags=0, sq_thread_cpu=0, sq_thread_idle=0, sq_entries=8, cq_entries=16, features=IORING_FEAT_SINGLE_MMAP|IORING_FEAT_NODROP|IORING_FEAT_SUBMIT_STABLE|IORING_FEAT_RW_CUR_POS|IORING_FEAT_CUR_PERSONALITY|IORING_FEAT_FAST_POLL|IORING_FEAT_POLL_32BITS|IORING_FEAT_SQPOLL_NONFIXED|IORING_FEAT_EXT_ARG|IORING_FEAT_NATIVE_WORKERS|IORING_FEAT_RSRC_TAGS|IORING_FEAT_CQE_SKIP|IORING_FEAT_LINKED_FILE|0x3e000, sq_off={head=0, tail=4, ring_mask=16, ring_entries=24, flags=36, dropped=32, array=320}, cq_off={head=8, tail=12, ring_mask=20, ring_entries=28, overflow=44, cqes=64, flags=40}}) = 3<anon_inode:[io_uring]>`,
			event.Event{Kind: event.KindSyscall, PID: 28636, Syscall: "io_uring_setup", Ret: 3, FD: 3, Flags: "0", Path: "anon_inode:[io_uring]"}},
		{"io_uring.strace", "28636 1796160429.414855 io_uring_setup(0, {flags=0, sq_thread_cpu=0, sq_thread_idle=0}) = -1 EINVAL (Invalid argument)",
			event.Event{Kind: event.KindSyscall, PID: 28636, Syscall: "io_uring_setup", Ret: -1, Errno: "EINVAL", FD: -1, Flags: "0"}},
	}
	files := map[string]string{}
	for _, c := range cases {
		name := c.want.Syscall
		if c.want.Errno != "" {
			name += "/" + c.want.Errno
		} else {
			name += "/ok"
		}
		t.Run(name, func(t *testing.T) {
			if _, ok := files[c.file]; !ok {
				files[c.file] = string(readFile(t, filepath.Join("testdata", c.file)))
			}
			if !strings.Contains(files[c.file], c.line+"\n") {
				t.Fatalf("line not in testdata/%s: %s", c.file, c.line)
			}
			got, ok, err := NewParser().ParseLine([]byte(c.line), 1)
			if err != nil || !ok {
				t.Fatalf("ParseLine: ok=%v err=%v", ok, err)
			}
			if got.Time.IsZero() {
				t.Error("zero time")
			}
			got.Time = time.Time{}
			if !eventEqual(got, c.want) {
				t.Errorf("\ngot  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// fchmodat2 is unknown to strace 6.1 (SyscallSet names it "?fchmodat2"
// so that 6.1 ignores it and a newer strace traces it); its line form is
// fchmodat's with a flags argument. Synthetic, as strace 6.1 prints
// "syscall_0x1c4(...)" for it.
func TestFchmodat2(t *testing.T) {
	for _, c := range []struct {
		line string
		want event.Event
	}{
		{`100 1796158453.701185 fchmodat2(3</tmp/stcap2/u>, "work/data.txt", 0700, AT_SYMLINK_NOFOLLOW) = 0`,
			event.Event{Kind: event.KindSyscall, PID: 100, Syscall: "fchmodat2", FD: -1, Path: "/tmp/stcap2/u/work/data.txt", Mode: 0o700}},
		{`100 1796158453.701185 fchmodat2(AT_FDCWD</tmp>, "/etc/passwd", 0666, 0) = -1 EPERM (Operation not permitted)`,
			event.Event{Kind: event.KindSyscall, PID: 100, Syscall: "fchmodat2", FD: -1, Ret: -1, Errno: "EPERM", Path: "/etc/passwd", Mode: 0o666}},
	} {
		got, ok, err := NewParser().ParseLine([]byte(c.line), 1)
		if err != nil || !ok {
			t.Fatalf("ParseLine(%s): ok=%v err=%v", c.line, ok, err)
		}
		got.Time = time.Time{}
		if !eventEqual(got, c.want) {
			t.Errorf("\ngot  %+v\nwant %+v", got, c.want)
		}
	}
}

func eventEqual(a, b event.Event) bool {
	return a.Kind == b.Kind && a.PID == b.PID && a.Syscall == b.Syscall && a.Ret == b.Ret &&
		a.Target == b.Target && a.Errno == b.Errno && a.FD == b.FD && a.Path == b.Path &&
		a.Path2 == b.Path2 && a.Flags == b.Flags && a.Mode == b.Mode && a.Proto == b.Proto &&
		a.Local == b.Local && a.Remote == b.Remote && a.Bytes == b.Bytes && a.Thread == b.Thread &&
		a.Signal == b.Signal && a.ExitCode == b.ExitCode && a.CallID == b.CallID && len(a.Argv) == len(b.Argv)
}
