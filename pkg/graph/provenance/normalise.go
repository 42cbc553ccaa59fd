package provenance

import (
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Classifier puts paths and addresses into classes and normalises them, so
// that graphs of different containers of the same function share labels.
// FuncDirs are the function code directories ("/home/app" in the official
// templates; the provider's private copies on the local stack). Cluster are
// the address ranges that count as inside the platform.
type Classifier struct {
	FuncDirs []string
	Cluster  []netip.Prefix
}

// DefaultClassifier fits the official templates on Kubernetes and the local
// stack (functions in 10.62.0.0/16).
func DefaultClassifier() Classifier {
	return Classifier{
		FuncDirs: []string{"/home/app", "/tmp/faasmon-stack/run"},
		Cluster: []netip.Prefix{
			netip.MustParsePrefix("10.62.0.0/16"),  // local stack functions and gateway
			netip.MustParsePrefix("10.42.0.0/16"),  // k3s pod CIDR
			netip.MustParsePrefix("10.43.0.0/16"),  // k3s service CIDR
			netip.MustParsePrefix("10.244.0.0/16"), // kind/flannel pod CIDR
			netip.MustParsePrefix("10.96.0.0/12"),  // kubeadm service CIDR
		},
	}
}

var classPrefixes = []struct {
	prefix string
	class  PathClass
}{
	{"/var/openfaas/secrets", ClassSecrets},
	{"/dev/shm", ClassTmp},
	{"/tmp", ClassTmp},
	{"/var/tmp", ClassTmp},
	{"/proc", ClassProc},
	{"/sys", ClassProc},
	{"/dev", ClassDev},
	{"/etc", ClassEtc},
	{"/lib", ClassSysLib},
	{"/lib64", ClassSysLib},
	{"/usr/lib", ClassSysLib},
	{"/usr/lib64", ClassSysLib},
	{"/usr/local/lib", ClassSysLib},
	{"/usr/share", ClassSysLib},
	{"/bin", ClassSysBin},
	{"/sbin", ClassSysBin},
	{"/usr/bin", ClassSysBin},
	{"/usr/sbin", ClassSysBin},
	{"/usr/local/bin", ClassSysBin},
	{"/usr/local/go", ClassSysLib},
	{"/root", ClassHome},
	{"/home", ClassHome},
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// File returns the class of an absolute path and its normalised label:
// the function directory becomes "$FUNC", a private copy's instance
// directory is folded in, and pids in /proc paths become "N".
func (c Classifier) File(p string) (PathClass, string) {
	if p == "" {
		return ClassOther, ""
	}
	p = strings.TrimSuffix(p, " (deleted)")
	if strings.HasPrefix(p, "/") {
		p = path.Clean(p)
	}
	for _, d := range c.FuncDirs {
		if under(p, d) {
			rest := strings.TrimPrefix(p, d)
			// The local stack keeps one private copy per instance,
			// <dir>/<instance>/..., and the instance name is noise.
			if d != "/home/app" {
				if i := strings.IndexByte(strings.TrimPrefix(rest, "/"), '/'); i >= 0 {
					rest = strings.TrimPrefix(rest, "/")[i:]
				} else {
					rest = ""
				}
			}
			return ClassFuncDir, "$FUNC" + rest
		}
	}
	if under(p, "/proc") {
		parts := strings.Split(p, "/")
		for i, s := range parts {
			if _, err := strconv.Atoi(s); err == nil && s != "" {
				parts[i] = "N"
			}
		}
		return ClassProc, strings.Join(parts, "/")
	}
	if under(p, "/tmp/faasmon-stack") {
		// Anything else of the local stack's own tree outside FuncDirs.
		return ClassOther, p
	}
	for _, cp := range classPrefixes {
		if under(p, cp.prefix) {
			return cp.class, p
		}
	}
	if strings.HasPrefix(p, "/") {
		return ClassOther, p
	}
	// Relative paths are relative to the handler's working directory,
	// which is the function directory in every template.
	return ClassFuncDir, "$FUNC/" + p
}

// ephemeralPort is where Linux starts its default ephemeral range: ports at
// or above it on a remote peer are a client's, and are folded to "*".
const ephemeralPort = 32768

// Addr returns the class of a remote "ip:port" and its normalised label.
func (c Classifier) Addr(addr string) (PathClass, string) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ClassOther, addr
	}
	// An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d.
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	label := ap.String()
	if ap.Port() >= ephemeralPort {
		label = netip.AddrPortFrom(ap.Addr(), 0).String()
		label = strings.TrimSuffix(label, ":0") + ":*"
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() {
		return ClassLoopback, label
	}
	for _, p := range c.Cluster {
		if p.Contains(ip) {
			return ClassInternal, label
		}
	}
	return ClassExternal, label
}
