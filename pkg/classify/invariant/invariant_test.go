package invariant

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/event"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/strace"
	"github.com/faasmon/faasmon/pkg/verdict"
)

// graphsOf parses a real trace of testdata (capture.sh) and builds its
// graphs with the graph stage's builder, as faasmon-parse and
// faasmon-graph would: the whole parse → graph path, no hand-made events.
func graphsOf(t testing.TB, name string) []provenance.Graph {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".strace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, _, unparsed, err := strace.Parse(f, 10)
	if err != nil {
		t.Fatal(err)
	}
	if unparsed > 0 {
		t.Fatalf("%s: %d unparsed lines", name, unparsed)
	}
	h := chunk.Header{Node: "n1", Function: "fn", Container: "c1", PID: 1, Kind: chunk.KindStrace,
		Stream: "s", Seq: 0, Start: time.Unix(0, 0), End: time.Unix(0, 0)}
	st := provenance.NewState(h)
	b := provenance.Builder{Class: provenance.DefaultClassifier()}
	gs, err := b.Apply(st, event.Batch{Version: event.SchemaVersion, Chunk: h, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range gs {
		if err := gs[i].Validate(); err != nil {
			t.Fatalf("%s: graph %d: %v", name, i, err)
		}
	}
	return gs
}

func rulesOf(fs []verdict.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}

// TestRealTraces: what real attack attempts by an unprivileged process
// violate, and that an ordinary workload violates nothing.
// TestMappedCode: in the real libload trace, both processes that mapped the
// dropped library executable (python3 through ctypes, true through
// LD_PRELOAD) run it, and no library of the image is in the graph as run.
func TestMappedCode(t *testing.T) {
	var by []string
	for _, g := range graphsOf(t, "libload") {
		for _, e := range g.Edges {
			f, p := g.Nodes[e.Src], g.Nodes[e.Dst]
			if e.Kind != provenance.EdgeExecve || !strings.HasSuffix(f.Path, ".so") && !strings.Contains(f.Path, ".so.") {
				continue
			}
			if f.Path != "/tmp/faasmon-inv/libx.so" {
				t.Errorf("%s runs %s: an image library is not a payload", p.Label, f.Path)
				continue
			}
			by = append(by, p.Exe)
		}
	}
	sort.Strings(by)
	if want := []string{"/usr/bin/python3", "/usr/bin/true"}; !slices.Equal(by, want) {
		t.Fatalf("libx.so mapped executable by %v, want %v", by, want)
	}
}

func TestRealTraces(t *testing.T) {
	for _, tc := range []struct {
		trace string
		want  []string // rule ids, sorted
		words []string // must appear in the findings' text
	}{
		{"attempts", []string{"credential-search", "credential-store-read", "persistence-write"},
			[]string{"tried to read /etc/shadow (EACCES)", "/proc/1/environ", "tried to write /etc/cron.d/x (EACCES)", "authorized_keys", "T1003.008", "T1053.003", "T1098.004"}},
		{"drift", []string{"drift-exec", "exec-from-writable-dir", "hidden-file-exec"},
			[]string{"/tmp/faasmon-inv/p, which its container wrote itself", "/tmp/faasmon-inv/s.sh", "/tmp/faasmon-inv/.h/x"}},
		{"privilege", []string{"namespace-or-mount", "set-id"},
			[]string{"setresuid", "(EPERM)", "unshare", "mount"}},
		{"history", []string{"log-tamper"}, []string{".bash_history"}},
		// Cleared by redirection: the shell's truncating open is all the
		// graph has of it.
		{"histtrunc", []string{"log-tamper"}, []string{".bash_history", ".ash_history", "T1070.003"}},
		// A shared library dropped in /tmp and loaded as code without an
		// execve: dlopen'ed by python3 (ctypes), then preloaded into true.
		// Only the mmap of the dropped file is in the graph, not the
		// image's own libraries.
		{"libload", []string{"drift-exec", "exec-from-writable-dir"},
			[]string{"python3 -c import ctypes; ctypes.CDLL('/tmp/faasmon-inv/libx.so') executed /tmp/faasmon-inv/libx.so, which its container wrote itself"}},
		{"benign", nil, nil},
	} {
		t.Run(tc.trace, func(t *testing.T) {
			var all []verdict.Finding
			for _, g := range graphsOf(t, tc.trace) {
				all = append(all, Check(&g)...)
			}
			if got := rulesOf(all); !slices.Equal(got, tc.want) {
				for _, f := range all {
					t.Logf("%s %s: %s", f.Rule, f.Technique, f.Text)
				}
				t.Fatalf("rules %v, want %v", got, tc.want)
			}
			var text strings.Builder
			for _, f := range all {
				text.WriteString(f.Technique + " " + f.Text + "\n")
				if f.Part != verdict.PartInvariant || f.Technique == "" || f.Tactic == "" || f.Severity == "" || len(f.Nodes) == 0 {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			for _, w := range tc.words {
				if !strings.Contains(text.String(), w) {
					t.Errorf("findings do not say %q:\n%s", w, text.String())
				}
			}
		})
	}
}
