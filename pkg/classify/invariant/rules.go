package invariant

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// Rules are the invariants, in the order findings are reported.
// docs/invariants.md is the same table for people.
var Rules = []Rule{
	{ID: "function-code-write", Technique: "T1574", Tactic: "persistence", Severity: Critical,
		Doc:   "A function does not change its own code or dependencies after it started (a planted module runs in the next invocation of the warm container).",
		match: functionCodeWrite},
	{ID: "credential-store-read", Technique: "T1003.008", Tactic: "credential_access", Severity: Critical,
		Doc:   "A function does not read (or try to read) credential stores: shadow files, private keys, cloud and tool credential files, shell history, other processes' environ or memory.",
		match: credentialRead},
	{ID: "persistence-write", Technique: "T1098.004", Tactic: "persistence", Severity: Critical,
		Doc:   "A function does not write (or try to write) authorized_keys, shell profiles, cron, at, systemd units, init scripts, ld.so.preload, accounts, sudoers, module loading or udev rules.",
		match: persistenceWrite},
	{ID: "log-tamper", Technique: "T1070.003", Tactic: "defense_evasion", Severity: Critical,
		Doc:   "A function does not write, delete, truncate or redirect shell history, nor delete, truncate or redirect system logs.",
		match: logTamper},
	{ID: "drift-exec", Technique: "T1105", Tactic: "command_and_control", Severity: Critical,
		Doc:   "A function does not execute a file its container wrote, downloaded or made executable itself (drift from the image), directly or through an interpreter.",
		match: driftExec},
	{ID: "exec-from-writable-dir", Technique: "T1059.004", Tactic: "execution", Severity: Warning,
		Doc:   "A function does not execute programs or scripts from /tmp, /var/tmp or /dev/shm.",
		match: execFromWritable},
	{ID: "fileless-exec", Technique: "T1620", Tactic: "defense_evasion", Severity: Critical,
		Doc:   "A function does not execute a memory file descriptor (memfd) or a file through /proc/*/fd.",
		match: filelessExec},
	{ID: "hidden-file-exec", Technique: "T1564.001", Tactic: "defense_evasion", Severity: Warning,
		Doc:   "A function does not execute a file in a hidden (dot) path.",
		match: hiddenExec},
	{ID: "outlived-invocation", Technique: "T1059", Tactic: "execution", Severity: Critical,
		Doc:   "A process an invocation started does not reach outside the platform after the invocation answered (the container-reuse attack's payload left running: a beacon, an exfiltration).",
		match: outlived},
	{ID: "ptrace", Technique: "T1055.008", Tactic: "privilege_escalation", Severity: Critical,
		Doc:   "A function does not ptrace (or try to) any process.",
		match: actRule("ptrace", "ptraced", "ptrace")},
	{ID: "raw-socket", Technique: "T1040", Tactic: "credential_access", Severity: Critical,
		Doc:   "A function does not open packet or raw sockets (sniffing, crafted packets).",
		match: rawSocket},
	{ID: "set-id", Technique: "T1548.001", Tactic: "privilege_escalation", Severity: Critical,
		Doc:   "A function does not change its user or group ids or capabilities, nor set the setuid/setgid bit on a file.",
		match: setID},
	{ID: "namespace-or-mount", Technique: "T1611", Tactic: "privilege_escalation", Severity: Critical,
		Doc:   "A function does not mount, unmount, unshare or enter namespaces (container escape).",
		match: actRule("mount", "umount2", "unshare", "setns")},
	{ID: "network-tool-exec", Technique: "T1095", Tactic: "command_and_control", Severity: Critical,
		Doc:   "A function does not run network tools: netcat, socat, telnet (channels), nmap, masscan (scanning), tcpdump, tshark (sniffing).",
		match: toolRule(networkTools)},
	{ID: "ingress-tool-exec", Technique: "T1105", Tactic: "command_and_control", Severity: Warning,
		Doc:   "A function does not run remote file copy tools (curl, wget, tftp, scp, rsync, ...): its code talks HTTP through its own libraries.",
		match: toolRule(ingressTools)},
	{ID: "admin-tool-exec", Technique: "T1053.003", Tactic: "persistence", Severity: Critical,
		Doc:   "A function does not run system administration tools (crontab, at, useradd, passwd, systemctl, insmod, setcap, chattr, shred).",
		match: toolRule(adminTools)},
	{ID: "credential-search", Technique: "T1552.001", Tactic: "credential_access", Severity: Critical,
		Doc:   "A function does not search files for private keys or passwords (grep/find for id_rsa, password, BEGIN ... PRIVATE KEY).",
		match: credentialSearch},
}

// --- path sets ---------------------------------------------------------

// pathTech maps a path to the technique it stands for, "" when none.
type pathTech func(p string) (technique, what string)

func hasBase(p string, names ...string) bool {
	b := path.Base(p)
	for _, n := range names {
		if b == n {
			return true
		}
	}
	return false
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// containsDir says whether p has the directory component seg ("/.ssh/").
func containsDir(p, seg string) bool { return strings.Contains(p, "/"+seg+"/") }

var historyFiles = []string{".bash_history", ".zsh_history", ".sh_history", ".ash_history",
	".history", ".python_history", ".mysql_history", ".psql_history", ".node_repl_history", ".lesshst", ".viminfo"}

func credentialPath(p string) (string, string) {
	switch {
	case underAny(p, "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/security/opasswd"):
		return "T1003.008", "the shadow password file"
	case containsDir(p, ".ssh") && strings.HasPrefix(path.Base(p), "id_") && !strings.HasSuffix(p, ".pub"):
		return "T1552.004", "an SSH private key"
	case strings.HasPrefix(p, "/etc/ssh/") && strings.HasSuffix(p, "_key"):
		return "T1552.004", "an SSH host key"
	case containsDir(p, "private") && (strings.HasSuffix(p, ".key") || strings.HasSuffix(p, ".pem")):
		return "T1552.004", "a private key"
	case containsDir(p, ".aws") && hasBase(p, "credentials", "config"),
		containsDir(p, ".docker") && hasBase(p, "config.json"),
		containsDir(p, ".kube") && hasBase(p, "config"),
		containsDir(p, "gcloud") && hasBase(p, "credentials.db", "access_tokens.db", "application_default_credentials.json"),
		containsDir(p, ".azure"),
		hasBase(p, ".git-credentials", ".netrc", ".pgpass", ".my.cnf", ".vault-token"):
		return "T1552.001", "a credentials file"
	case p == "/var/run/secrets/kubernetes.io/serviceaccount/token" || p == "/run/secrets/kubernetes.io/serviceaccount/token":
		return "T1528", "the pod's service account token"
	case hasBase(p, historyFiles...):
		return "T1552.003", "a shell history"
	}
	return "", ""
}

// procOfOther says whether p is /proc/PID/{environ,mem,maps} of a pid
// other than self (pid of the reading process).
func procOfOther(p string, self int) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/proc/"), "/")
	if !strings.HasPrefix(p, "/proc/") || len(parts) != 2 {
		return false
	}
	if parts[1] != "environ" && parts[1] != "mem" && parts[1] != "maps" {
		return false
	}
	if parts[0] == "self" || parts[0] == "thread-self" {
		return false
	}
	pid, err := strconv.Atoi(parts[0])
	return err == nil && pid != self
}

func persistencePath(p string) (string, string) {
	switch {
	case containsDir(p, ".ssh") && hasBase(p, "authorized_keys", "authorized_keys2"):
		return "T1098.004", "SSH authorized_keys"
	case hasBase(p, ".bashrc", ".bash_profile", ".bash_login", ".profile", ".bash_logout", ".zshrc",
		".zprofile", ".zshenv", ".zlogin", ".cshrc", ".tcshrc", ".kshrc"),
		underAny(p, "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zsh", "/etc/environment"):
		return "T1546.004", "a shell profile"
	case underAny(p, "/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly",
		"/etc/cron.monthly", "/var/spool/cron", "/etc/anacrontab"):
		return "T1053.003", "cron"
	case underAny(p, "/var/spool/at", "/var/spool/atjobs", "/etc/at.allow", "/etc/at.deny"):
		return "T1053.002", "at jobs"
	case underAny(p, "/etc/systemd", "/lib/systemd/system", "/usr/lib/systemd/system", "/run/systemd/system") ||
		containsDir(p, ".config") && strings.Contains(p, "/systemd/"):
		if strings.HasSuffix(p, ".timer") {
			return "T1053.006", "a systemd timer"
		}
		return "T1543.002", "a systemd unit"
	case underAny(p, "/etc/rc.local", "/etc/rc.common", "/etc/init.d", "/etc/init", "/etc/rc0.d", "/etc/rc1.d",
		"/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d", "/etc/rc6.d"):
		return "T1037.004", "an init script"
	case underAny(p, "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d"):
		return "T1574.006", "the dynamic linker's preload"
	case underAny(p, "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"):
		return "T1136.001", "the account database"
	case underAny(p, "/etc/sudoers", "/etc/sudoers.d"):
		return "T1548.003", "sudoers"
	case underAny(p, "/etc/modules", "/etc/modules-load.d", "/etc/modprobe.d"):
		return "T1547.006", "kernel module loading"
	case underAny(p, "/etc/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d"):
		return "T1546.017", "udev rules"
	case containsDir(p, ".config") && containsDir(p, "autostart") || underAny(p, "/etc/xdg/autostart"):
		return "T1547.013", "desktop autostart"
	case underAny(p, "/etc/update-motd.d"):
		return "T1037", "the message of the day scripts"
	}
	return "", ""
}

func logPath(p string) (string, string) {
	switch {
	case hasBase(p, historyFiles...):
		return "T1070.003", "a shell history"
	case underAny(p, "/var/log", "/var/run/utmp", "/run/utmp", "/var/adm"):
		return "T1070.002", "a system log"
	}
	return "", ""
}

// --- file rules --------------------------------------------------------

// fileRule reports accesses that pass keep on a path that paths maps to a
// technique.
func fileRule(v *view, paths pathTech, keep func(access) bool, past, present string, tactic string) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, a := range v.acc {
		if !keep(a) {
			continue
		}
		tech, what := paths(a.path)
		if tech == "" {
			continue
		}
		key := a.path + "|" + a.how + "|" + a.errno
		if seen[key] {
			continue
		}
		seen[key] = true
		h := v.fileHit(a, fmt.Sprintf("%s (%s, %s)", v.describe(a, past, present), what, tech))
		h.technique, h.tactic = tech, tactic
		out = append(out, h)
	}
	return out
}

func credentialRead(v *view) []hit {
	reads := func(a access) bool { return a.how == "read" || a.how == "open" }
	hits := fileRule(v, credentialPath, reads, "read", "read", "credential_access")
	for _, a := range v.acc {
		if !reads(a) || a.proc < 0 {
			continue
		}
		if procOfOther(a.path, v.node(a.proc).PID) {
			h := v.fileHit(a, fmt.Sprintf("%s (another process's memory or environment, T1003.007)", v.describe(a, "read", "read")))
			h.technique, h.tactic = "T1003.007", "credential_access"
			hits = append(hits, h)
		}
	}
	return hits
}

func persistenceWrite(v *view) []hit {
	return fileRule(v, persistencePath, access.modifies, "wrote", "write", "persistence")
}

func logTamper(v *view) []hit {
	keep := func(a access) bool {
		// Appending to a system log is what logs are for; deleting,
		// truncating, renaming away or linking over one is not. A write
		// to a log counts only when the open truncated (a refused open's
		// act keeps its flags; a successful open's flags do not reach the
		// graph, so a plain write edge is left to the profile). A shell
		// history is another matter: no function writes one — only an
		// interactive shell does, or someone clearing it (`> history`,
		// `cat /dev/null > history`: the truncating open is the write).
		switch a.how {
		case "unlink", "rename", "truncate", "link":
			return true
		case "write":
			return a.act != nil && strings.Contains(a.act.Arg, "O_TRUNC") || hasBase(a.path, historyFiles...)
		}
		return false
	}
	return fileRule(v, logPath, keep, "cleared", "clear", "defense_evasion")
}

// codeExts are the extensions of code a runtime loads.
var codeExts = map[string]bool{".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".py": true, ".pyc": true,
	".rb": true, ".php": true, ".pl": true, ".sh": true, ".so": true, ".node": true, ".wasm": true,
	".jar": true, ".class": true, ".go": true, ".lua": true}

// isCode says whether a function-directory path (label "$FUNC/...") holds
// code or dependencies rather than data.
func isCode(label string) bool {
	rest := strings.TrimPrefix(label, "$FUNC")
	if codeExts[path.Ext(rest)] {
		return true
	}
	if strings.Contains(rest, "/node_modules/") || strings.Contains(rest, "/site-packages/") || strings.Contains(rest, "/vendor/") {
		return true
	}
	return hasBase(rest, "package.json", "package-lock.json", "requirements.txt", "go.mod", "handler", "index")
}

func functionCodeWrite(v *view) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, a := range v.acc {
		if !a.modifies() {
			continue
		}
		label := a.path
		if a.file >= 0 {
			label = v.node(a.file).Label
		} else if a.act != nil && a.act.Label != "" {
			label = a.act.Label
		}
		if !strings.HasPrefix(label, "$FUNC/") || !isCode(label) {
			continue
		}
		// Python writes its own bytecode cache beside the modules it
		// imports: the runtime's cache, not a change of code.
		if strings.Contains(label, "/__pycache__/") && a.proc >= 0 && strings.HasPrefix(v.baseExe(a.proc), "python") {
			continue
		}
		key := label + "|" + a.how + "|" + a.errno
		if seen[key] {
			continue
		}
		seen[key] = true
		verb := map[string]string{"unlink": "deleted", "rename": "moved", "chmod": "changed the mode of"}[a.how]
		present := map[string]string{"unlink": "delete", "rename": "move", "chmod": "change the mode of"}[a.how]
		if verb == "" {
			verb, present = "wrote", "write"
		}
		out = append(out, v.fileHit(a, v.describe(a, verb, present)+" in its own code"))
	}
	return out
}

// --- exec rules --------------------------------------------------------

var interpreters = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true,
	"busybox": true, "python": true, "python3": true, "perl": true, "ruby": true, "node": true, "php": true, "lua": true}

func isInterpreter(exe string) bool {
	if interpreters[exe] {
		return true
	}
	// python3.11, perl5.36 and the like.
	for _, p := range []string{"python", "perl", "ruby", "php", "lua"} {
		if strings.HasPrefix(exe, p) {
			return true
		}
	}
	return false
}

// scripts lists the files an interpreter process read that its command
// line names: the scripts it runs (sh /tmp/p.sh, python3 x.py).
func (v *view) scripts() []access {
	var out []access
	for i := range v.g.Nodes {
		n := &v.g.Nodes[i]
		if n.Kind != provenance.NodeProcess || !isInterpreter(v.baseExe(i)) {
			continue
		}
		script := scriptArg(strings.Fields(n.Label))
		if script == "" {
			continue
		}
		for _, ei := range v.in[i] {
			e := v.g.Edges[ei]
			f := v.node(e.Src)
			if e.Kind != provenance.EdgeRead || f.Kind != provenance.NodeFile {
				continue
			}
			p := filePath(f)
			if script == p || !strings.HasPrefix(script, "/") && strings.HasSuffix(p, "/"+strings.TrimPrefix(script, "./")) {
				out = append(out, access{proc: i, file: e.Src, path: p, how: "exec"})
			}
		}
	}
	return out
}

// scriptArg is the script an interpreter's command line runs: its first
// argument that is not an option. An inline program (-c, -e) runs no
// script file, and the arguments after the script are its data (a shell
// script given an image to convert reads the image; that is not running
// it).
func scriptArg(args []string) string {
	if len(args) < 2 {
		return ""
	}
	for _, a := range args[1:] {
		switch {
		case a == "-c" || a == "-e" || a == "--eval" || a == "-m":
			return ""
		case strings.HasPrefix(a, "-"):
			continue
		}
		return a
	}
	return ""
}

func driftExec(v *view) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, a := range v.run {
		if a.file < 0 || !v.node(a.file).Written || seen[a.path] {
			continue
		}
		seen[a.path] = true
		out = append(out, v.fileHit(a, fmt.Sprintf("%s executed %s, which its container wrote itself", v.procOrSomeone(a.proc), a.path)))
	}
	return out
}

func (v *view) procOrSomeone(i int) string {
	if i < 0 {
		return "a process"
	}
	return v.proc(i)
}

func execFromWritable(v *view) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, a := range v.run {
		if !underAny(a.path, "/tmp", "/var/tmp", "/dev/shm", "/run/shm") || seen[a.path] {
			continue
		}
		seen[a.path] = true
		out = append(out, v.fileHit(a, v.describe(a, "executed", "execute")+" from a world-writable directory"))
	}
	return out
}

func filelessExec(v *view) []hit {
	var out []hit
	for _, a := range v.exe {
		p := a.path
		if strings.HasPrefix(p, "memfd:") || strings.HasPrefix(p, "/memfd:") ||
			strings.HasPrefix(p, "/proc/") && strings.Contains(p, "/fd/") {
			out = append(out, v.fileHit(a, v.describe(a, "executed", "execute")+" (a file with no name on disk)"))
		}
	}
	return out
}

func hiddenExec(v *view) []hit {
	var out []hit
	seen := map[string]bool{}
	for _, a := range v.run {
		if seen[a.path] {
			continue
		}
		for _, seg := range strings.Split(a.path, "/") {
			// npm's node_modules/.bin shims are ordinary.
			if len(seg) > 1 && seg[0] == '.' && seg != ".." && seg != ".bin" {
				seen[a.path] = true
				out = append(out, v.fileHit(a, v.describe(a, "executed", "execute")+" from a hidden path"))
				break
			}
		}
	}
	return out
}

// outlived finds, in a background graph, processes an invocation started
// that still talk to the network outside the platform. Local work after
// the answer (a conversion pipeline finishing, a child's last reads and
// execs) is what handlers do when they answer before their children exit;
// it raised false alerts on the lab's benign photo-receive. A payload left
// running in a warm container is there to reach out (a beacon, an
// exfiltration); one that stays local is left to the profile's background
// dimension.
func outlived(v *view) []hit {
	if v.g.Window != provenance.WindowBackground {
		return nil
	}
	var out []hit
	for i := range v.g.Nodes {
		n := &v.g.Nodes[i]
		if n.Kind != provenance.NodeProcess || n.Spawned == "" {
			continue
		}
		var did []string
		for _, ei := range append(append([]int{}, v.out[i]...), v.in[i]...) {
			e := v.g.Edges[ei]
			var what string
			external := v.node(e.Dst).Kind == provenance.NodeSocket && v.node(e.Dst).Class == provenance.ClassExternal
			switch {
			case e.Kind == provenance.EdgeConnect && e.Src == i && external:
				what = "connected to " + v.node(e.Dst).Label
			case e.Kind == provenance.EdgeSend && e.Src == i && external:
				what = "sent to " + v.node(e.Dst).Label
			}
			if what != "" && len(did) < 3 {
				did = append(did, what)
			}
		}
		if len(did) > 0 {
			out = append(out, hit{nodes: []int{i}, text: fmt.Sprintf("%s, started by invocation %s, still ran after it answered: %s",
				v.proc(i), n.Spawned, strings.Join(did, ", "))})
		}
	}
	return out
}

// --- act rules ---------------------------------------------------------

// actRule reports every act of the given syscalls.
func actRule(syscalls ...string) func(*view) []hit {
	return func(v *view) []hit {
		var out []hit
		for i := range v.g.Acts {
			a := &v.g.Acts[i]
			for _, s := range syscalls {
				if a.Syscall == s {
					out = append(out, hit{nodes: []int{a.Proc}, text: v.describeAct(a)})
					break
				}
			}
		}
		return out
	}
}

func (v *view) describeAct(a *provenance.Act) string {
	var args []string
	for _, s := range []string{a.Arg, a.Path, a.Path2, a.Local} {
		if s != "" {
			args = append(args, s)
		}
	}
	if a.Target != 0 {
		args = append(args, "pid "+strconv.Itoa(a.Target))
	}
	call := a.Syscall + "(" + strings.Join(args, ", ") + ")"
	if a.Errno != "" {
		return fmt.Sprintf("%s tried %s (%s)", v.proc(a.Proc), call, a.Errno)
	}
	return fmt.Sprintf("%s called %s", v.proc(a.Proc), call)
}

func rawSocket(v *view) []hit {
	var out []hit
	for i := range v.g.Acts {
		a := &v.g.Acts[i]
		if a.Syscall == "socket" && (strings.Contains(a.Arg, "PACKET") || strings.Contains(a.Arg, "RAW")) {
			out = append(out, hit{nodes: []int{a.Proc}, text: v.describeAct(a)})
		}
	}
	return out
}

var setIDCalls = map[string]bool{"setuid": true, "setgid": true, "setreuid": true, "setregid": true,
	"setresuid": true, "setresgid": true, "setfsuid": true, "setfsgid": true, "capset": true}

func setID(v *view) []hit {
	var out []hit
	for i := range v.g.Acts {
		a := &v.g.Acts[i]
		switch {
		case setIDCalls[a.Syscall]:
			out = append(out, hit{nodes: []int{a.Proc}, text: v.describeAct(a)})
		case (a.Syscall == "chmod" || a.Syscall == "fchmod" || a.Syscall == "fchmodat" || a.Syscall == "fchmodat2") && a.Mode&0o6000 != 0:
			out = append(out, hit{nodes: []int{a.Proc}, text: v.describeAct(a) + fmt.Sprintf(" with mode %#o (setuid/setgid)", a.Mode)})
		}
	}
	return out
}

// --- tool rules --------------------------------------------------------

type tool struct{ technique, tactic, what string }

var networkTools = map[string]tool{
	"nc": {"T1095", "command_and_control", "netcat"}, "ncat": {"T1095", "command_and_control", "netcat"},
	"netcat": {"T1095", "command_and_control", "netcat"}, "nc.traditional": {"T1095", "command_and_control", "netcat"},
	"nc.openbsd": {"T1095", "command_and_control", "netcat"}, "socat": {"T1095", "command_and_control", "socat"},
	"telnet": {"T1095", "command_and_control", "telnet"},
	"nmap":   {"T1046", "discovery", "a port scanner"}, "masscan": {"T1046", "discovery", "a port scanner"},
	"zmap": {"T1046", "discovery", "a port scanner"}, "hping3": {"T1046", "discovery", "a packet crafter"},
	"tcpdump": {"T1040", "credential_access", "a packet sniffer"}, "tshark": {"T1040", "credential_access", "a packet sniffer"},
	"dumpcap": {"T1040", "credential_access", "a packet sniffer"},
}

var ingressTools = map[string]tool{
	"curl": {"T1105", "command_and_control", "a download tool"}, "wget": {"T1105", "command_and_control", "a download tool"},
	"tftp": {"T1105", "command_and_control", "a file transfer tool"}, "ftp": {"T1105", "command_and_control", "a file transfer tool"},
	"scp": {"T1105", "command_and_control", "a file transfer tool"}, "sftp": {"T1105", "command_and_control", "a file transfer tool"},
	"rsync": {"T1105", "command_and_control", "a file transfer tool"}, "aria2c": {"T1105", "command_and_control", "a download tool"},
}

var adminTools = map[string]tool{
	"crontab": {"T1053.003", "persistence", "the cron editor"},
	"at":      {"T1053.002", "persistence", "the at scheduler"}, "batch": {"T1053.002", "persistence", "the at scheduler"},
	"useradd": {"T1136.001", "persistence", "an account tool"}, "adduser": {"T1136.001", "persistence", "an account tool"},
	"usermod": {"T1098", "persistence", "an account tool"}, "groupadd": {"T1136.001", "persistence", "an account tool"},
	"passwd": {"T1098", "persistence", "an account tool"}, "chpasswd": {"T1098", "persistence", "an account tool"},
	"systemctl": {"T1543.002", "persistence", "the service manager"},
	"insmod":    {"T1547.006", "persistence", "a kernel module loader"}, "modprobe": {"T1547.006", "persistence", "a kernel module loader"},
	"setcap": {"T1548", "privilege_escalation", "the capability tool"},
	"chattr": {"T1222.002", "defense_evasion", "the file attribute tool"},
	"shred":  {"T1070.004", "defense_evasion", "a file shredder"},
}

// toolRule reports execs (and refused exec attempts) of the named tools.
func toolRule(tools map[string]tool) func(*view) []hit {
	return func(v *view) []hit {
		var out []hit
		seen := map[string]bool{}
		for _, a := range v.exe {
			t, ok := tools[path.Base(a.path)]
			if !ok || seen[a.path] {
				continue
			}
			seen[a.path] = true
			h := v.fileHit(a, fmt.Sprintf("%s (%s, %s)", v.describe(a, "executed", "execute"), t.what, t.technique))
			h.technique, h.tactic = t.technique, t.tactic
			out = append(out, h)
		}
		return out
	}
}

var searchTools = map[string]bool{"grep": true, "egrep": true, "fgrep": true, "rg": true, "find": true, "locate": true, "ag": true}

var secretWords = []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "password", "passwd=", "private key",
	"private_key", "begin rsa", "begin openssh", "aws_secret", ".pem", "secret_key", "api_key", "token="}

func credentialSearch(v *view) []hit {
	var out []hit
	for i := range v.g.Nodes {
		n := &v.g.Nodes[i]
		if n.Kind != provenance.NodeProcess || !searchTools[v.baseExe(i)] {
			continue
		}
		cmd := strings.ToLower(n.Label)
		for _, w := range secretWords {
			if strings.Contains(cmd, w) {
				out = append(out, hit{nodes: []int{i}, text: fmt.Sprintf("%s searched for %q", v.proc(i), w)})
				break
			}
		}
	}
	return out
}
