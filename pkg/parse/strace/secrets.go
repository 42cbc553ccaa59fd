package strace

import (
	"regexp"
	"strings"
)

// Mask replaces a credential's value.
const Mask = "***"

// secretWord is what a key, flag or header name holds when its value is a
// credential. Broad on purpose: masking a harmless value costs the
// detector nothing (it keeps the command's shape), leaking a token costs
// the user.
const secretWord = `(?:password|passwd|passphrase|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth|signature|session|cookie)`

var (
	// scheme://user:pw@host
	// (Only space, tab, CR and LF end it: a password may hold any other
	// byte, and a form feed must not hide one.)
	reUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/ \t\r\n:@'"]*):([^@ \t\r\n/'"]+)@`)
	// key=value in a query, a form body or an environment assignment.
	reKeyValue = regexp.MustCompile(`(?i)(?:^|[?&;\s'"])([\w.-]*` + secretWord + `[\w.-]*)=([^&\s'";]+)`)
	// "Name: value" headers (curl -H, or inside a shell command).
	reHeader = regexp.MustCompile(`(?i)(?:^|[\s'"])((?:authorization|proxy-authorization|cookie|set-cookie|[\w-]*` + secretWord + `[\w-]*)\s*:[ \t]*)([^\r\n'"]+)`)
	// "key": "value" in JSON.
	reJSON = regexp.MustCompile(`(?i)("[\w-]*` + secretWord + `[\w-]*"\s*:\s*")((?:[^"\\]|\\.)*)"`)
	// --password=value, -token=value
	reFlagEq = regexp.MustCompile(`(?i)(?:^|\s)(--?[\w-]*` + secretWord + `[\w-]*=)(\S+)`)
	// --password value, inside one string (sh -c "...")
	reFlagSp = regexp.MustCompile(`(?i)(?:^|\s)(--?[\w-]*` + secretWord + `[\w-]*\s+)(['"]?[^\s'"-][^\s'"]*)`)
	// curl -u user:pw, --user user:pw, -uuser:pw (also inside a string)
	reUserFlag = regexp.MustCompile(`(?:^|\s)(?:-u|-U|--user|--proxy-user)(?:\s+|=)?['"]?[^\s:'"]*:([^\s'"]+)`)
)

// maskGroup replaces submatch g of every match of re in s with Mask.
func maskGroup(s string, re *regexp.Regexp, g int) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		lo, hi := m[2*g], m[2*g+1]
		if lo < last || lo < 0 {
			continue
		}
		b.WriteString(s[last:lo])
		b.WriteString(Mask)
		last = hi
	}
	b.WriteString(s[last:])
	return b.String()
}

// ScrubText masks credentials wherever they stand in a command line, URL
// or shell command: URL passwords (user:pw@), secret query/form/env
// parameters (password=, token=, X-Amz-Signature=), secret headers
// (Authorization:, X-Vault-Token:, Private-Token:, Cookie:), JSON secret
// fields ("password": "..."), secret flags (--password=x, --token x) and
// curl's -u/--user user:pw. The command's shape stays: only values become
// Mask.
func ScrubText(s string) string {
	if len(s) < 3 {
		return s
	}
	s = maskGroup(s, reUserinfo, 2)
	s = maskGroup(s, reUserFlag, 1)
	s = maskGroup(s, reJSON, 2)
	s = maskGroup(s, reHeader, 2)
	s = maskGroup(s, reFlagEq, 2)
	s = maskGroup(s, reFlagSp, 2)
	s = maskGroup(s, reKeyValue, 2)
	return s
}

// ScrubURLBytes masks the credentials of a URL or request line: user:pw@
// and secret query parameters.
func ScrubURLBytes(b []byte) []byte {
	s := string(b)
	s = maskGroup(s, reUserinfo, 2)
	s = maskGroup(s, reKeyValue, 2)
	return []byte(s)
}

// credFlag says how an argv element that follows flag is a credential:
// "user" for curl's user:password, "all" for a secret-named flag's value.
func credFlag(flag string) string {
	switch flag {
	case "-u", "-U", "--user", "--proxy-user":
		return "user"
	}
	if !strings.HasPrefix(flag, "-") || strings.Contains(flag, "=") {
		return ""
	}
	if reSecretFlag.MatchString(flag) {
		return "all"
	}
	return ""
}

var reEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var reSecretFlag = regexp.MustCompile(`(?i)^--?[\w-]*` + secretWord + `[\w-]*$`)

// ScrubArgv returns argv with credentials masked: each element through
// ScrubText, and the element after -u/--user (user:Mask) or after a
// secret-named flag such as --password (Mask). argv itself is not changed.
func ScrubArgv(argv []string) []string {
	out := make([]string, len(argv))
	// env(1)'s assignments are a process's environment on its command
	// line: every value is masked, whatever its name.
	envAssign := len(argv) > 0 && (argv[0] == "env" || strings.HasSuffix(argv[0], "/env"))
	for i, a := range argv {
		if envAssign && i > 0 {
			if k := strings.IndexByte(a, '='); k > 0 && reEnvName.MatchString(a[:k]) {
				out[i] = a[:k+1] + Mask
				continue
			}
			if !strings.HasPrefix(a, "-") {
				envAssign = false // the command env runs
			}
		}
		if i > 0 {
			switch credFlag(argv[i-1]) {
			case "user":
				if k := strings.IndexByte(a, ':'); k >= 0 {
					out[i] = a[:k+1] + Mask
				} else {
					out[i] = a
				}
				continue
			case "all":
				out[i] = Mask
				continue
			}
		}
		out[i] = ScrubText(a)
	}
	return out
}

// MaskURLInPlace overwrites with '*', keeping b's length, the credentials
// of a URL or request line (user:pw@, secret query parameters): for
// captured packets, whose framing must not move.
func MaskURLInPlace(b []byte) {
	for _, re := range []*regexp.Regexp{reUserinfo, reKeyValue} {
		for _, m := range re.FindAllSubmatchIndex(b, -1) {
			for k := m[4]; k < m[5]; k++ {
				b[k] = '*'
			}
		}
	}
}
