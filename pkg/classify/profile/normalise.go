package profile

import (
	"strings"
)

// The templates of paths, argv and request lines fold what differs from one
// invocation of the same code to the next (numbers, hashes, uuids, random
// names) and keep what the code chose (directories, file names, flags).
// What a template does not fold makes the dimension vary, and a dimension
// that varies is never armed (see Dim): folding too little costs coverage,
// never a false alert on its own. Folding too much costs precision, so the
// rules are narrow.

// Placeholders of folded components.
const (
	foldNum  = "N"    // a number: "shot-58035.jpg" → "shot-N.jpg"
	foldHex  = "H"    // a hash or container id: 12 hex digits
	foldUUID = "UUID" // 8-4-4-4-12 hex
	foldRand = "R"    // a random token: mktemp, Python's tempfile
)

// maxTokens bounds the argv tokens a shape keeps; the rest is "…".
const maxTokens = 32

// PathTemplate folds the random, numeric and hash components of a path (or
// of a graph's normalised file label, which may start with "$FUNC"), and
// names the merged-/usr directories one way: on Debian and most images
// /lib, /lib64, /bin and /sbin are links to their /usr twins, and a
// loader or a script opens a library by either name (the lab's profiles
// flagged "/lib/x86_64-linux-gnu/libz.so.1" after learning the /usr/lib
// one). Where they are distinct directories this only folds two names of
// system code together.
func PathTemplate(p string) string {
	if p == "" {
		return ""
	}
	p = usrMerged(p)
	parts := strings.Split(p, "/")
	for i, c := range parts {
		if c == "" || c == "$FUNC" || c == "." || c == ".." {
			continue
		}
		parts[i] = FoldToken(c)
	}
	return bound(strings.Join(parts, "/"))
}

func usrMerged(p string) string {
	for _, d := range []string{"/lib/", "/lib64/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(p, d) {
			return "/usr" + p
		}
	}
	return p
}

// FoldToken folds one path component or argument word: uuids, hex runs,
// random tokens and numbers inside it; punctuation and words stay.
func FoldToken(s string) string {
	if strings.ContainsRune(s, '/') {
		return PathTemplate(s)
	}
	if !mayFold(s) {
		return s
	}
	s = foldUUIDs(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		b.WriteString(foldRun(s[i:j]))
		i = j
	}
	return b.String()
}

// mayFold says whether FoldToken could change s: every fold needs a digit
// except the base64-like one, which needs a run of 16 letters.
func mayFold(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			return true
		case isLetter(c):
			run++
			if run >= 16 {
				return true
			}
		default:
			run = 0
		}
	}
	return false
}

// foldRun folds one maximal run of letters and digits.
func foldRun(r string) string {
	if r == foldUUID {
		return r
	}
	if isHexHash(r) {
		return foldHex
	}
	if isRandom(r) {
		return foldRand
	}
	// Digit runs: a number is folded, except a short one glued to a word
	// ("python3", "sha256sum", "x86"): that is a name, not a value.
	var b strings.Builder
	for i := 0; i < len(r); {
		if !isDigit(r[i]) {
			b.WriteByte(r[i])
			i++
			continue
		}
		j := i
		for j < len(r) && isDigit(r[j]) {
			j++
		}
		letters := 0
		for k := i - 1; k >= 0 && isLetter(r[k]); k-- {
			letters++
		}
		if letters >= 1 && j-i <= 3 {
			b.WriteString(r[i:j])
		} else {
			b.WriteString(foldNum)
		}
		i = j
	}
	return b.String()
}

// isHexHash: 8 or more hex digits with at least one digit and one letter
// (a container id, a content hash); "deadbeef" and "12345678" are not.
func isHexHash(r string) bool {
	if len(r) < 8 {
		return false
	}
	var d, l bool
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case isDigit(c):
			d = true
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			l = true
		default:
			return false
		}
	}
	return d && l
}

// isRandom says whether a run looks generated: letters and digits mixed
// the way a random alphabet mixes them (mktemp's "Kq3ZxA9bLm", Python's
// "a8x7kq2z"), not the way names do ("sha256sum": two switches).
func isRandom(r string) bool {
	if len(r) < 6 {
		return false
	}
	var digits, letters, switches, cases int
	for i := 0; i < len(r); i++ {
		c := r[i]
		if isDigit(c) {
			digits++
		} else {
			letters++
		}
		if i > 0 {
			p := r[i-1]
			if isDigit(p) != isDigit(c) {
				switches++
			} else if isLetter(p) && isLetter(c) && isUpper(p) != isUpper(c) {
				cases++
			}
		}
	}
	if digits >= 2 && letters >= 2 && switches >= 3 {
		return true
	}
	// Base64-like: long and switching case far more often than words do.
	return len(r) >= 16 && cases+switches >= len(r)/3
}

// foldUUIDs replaces every 8-4-4-4-12 hex group by "UUID".
func foldUUIDs(s string) string {
	if len(s) < 36 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+36 <= len(s) && isUUID(s[i:i+36]) {
			b.WriteString(foldUUID)
			i += 36
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isUUID(s string) bool {
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ArgvShape folds a process's command line (the graph's label: argv joined
// by spaces, cut at 200 bytes with "…") word by word.
func ArgvShape(cmd string) string {
	words := strings.Fields(cmd)
	cut := false
	if len(words) > maxTokens {
		words, cut = words[:maxTokens], true
	}
	for i, w := range words {
		words[i] = FoldToken(w)
	}
	s := strings.Join(words, " ")
	if cut {
		s += " …"
	}
	return bound(s)
}

// RequestTemplate is "METHOD /path/template" (query dropped), with the host
// in front of the path for a request the function made.
func RequestTemplate(method, host, path string, outbound bool) string {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		path = "/"
	}
	m := strings.ToUpper(method)
	if len(m) > 16 || !isAllAlpha(m) {
		m = "?"
	}
	t := PathTemplate(path)
	if outbound {
		t = strings.ToLower(host) + t
		return bound("out " + m + " " + t)
	}
	return bound(m + " " + t)
}

// bound makes s a value a profile can hold: valid UTF-8 without control
// characters (paths and command lines come from the traced program and may
// hold anything; a value must survive the YAML round trip and the strict
// import), at most MaxValueLen bytes, cut on a rune boundary.
func bound(s string) string {
	if checkText(s) != nil {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
				return '?'
			}
			return r
		}, strings.ToValidUTF8(s, "?"))
	}
	if len(s) <= MaxValueLen {
		return s
	}
	cut := MaxValueLen - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || isUpper(c) }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }

func isAllAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return s != ""
}
