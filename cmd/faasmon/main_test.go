package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasmon/faasmon/pkg/chunk"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/parse/ingest"
)

// archive writes the graphs of a real strace capture (pkg/parse/strace/testdata)
// as faasmon-graph's archive does, rounds times (as many calls of the same
// code), and returns the directory.
func archive(t *testing.T, dir, fn string, rounds int, files ...string) string {
	t.Helper()
	for _, file := range files {
		body, err := os.ReadFile(filepath.Join("..", "..", "pkg", "parse", "strace", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		h := chunk.Header{Node: "n1", Function: fn, Container: "c-" + file, PID: 1, Kind: chunk.KindStrace,
			Stream: "s", Start: t0, End: t0.Add(time.Minute)}
		batch, err := ingest.Chunk(h, body)
		if err != nil {
			t.Fatal(err)
		}
		gs, err := provenance.Builder{Class: provenance.DefaultClassifier()}.Apply(provenance.NewState(h), batch)
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rounds; r++ {
			for _, g := range gs {
				g.ID = fmt.Sprintf("%s-r%d", g.ID, r)
				if _, err := provenance.Archive(dir, &g); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return dir
}

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestProfileCommands(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "profiles")
	benign := archive(t, filepath.Join(tmp, "benign"), "node-server", 7, "node.strace", "node-tt.strace", "attach.strace")
	attack := archive(t, filepath.Join(tmp, "attack"), "node-server", 1, "shell.strace")

	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string // each must appear
		stderr string
	}{
		{name: "learn", args: []string{"profile", "learn", "-dir", dir, "-version", "sha256:aa", benign},
			stdout: []string{"openfaas-fn/node-server@sha256:aa: learnt 56 graphs (0 more not learnt: armed), learning"}},
		{name: "check while learning", args: []string{"profile", "check", "-dir", dir, "-version", "sha256:aa", attack},
			stdout: []string{"is learning: nothing checked", "0 of 1 graphs deviate"}},
		{name: "arm", args: []string{"profile", "learn", "-dir", dir, "-version", "sha256:aa", "-arm", benign},
			stdout: []string{"learnt 56 graphs", "armed"}},
		{name: "show", args: []string{"profile", "show", "-dir", dir},
			stdout: []string{"FUNCTION", "node-server  sha256:aa  armed  112", "exe,exec,argv,background"}},
		{name: "show one", args: []string{"profile", "show", "-dir", dir, "node-server@sha256:aa"},
			stdout: []string{"openfaas-fn/node-server@sha256:aa: armed, 112 graphs learnt", "exe ", "0.0%"}},
		{name: "check the attack", args: []string{"profile", "check", "-dir", dir, "-version", "sha256:aa", attack},
			stdout: []string{"[exe] node-server ran /usr/bin/curl from sh for the first time", "1 of 1 graphs deviate"}},
		{name: "check a benign graph", args: []string{"profile", "check", "-dir", dir, "-version", "sha256:aa",
			filepath.Join(benign, "openfaas-fn.node-server.c-node.strace_9f1c2e4a-node-0001-r3.json")},
			stdout: []string{"0 of 1 graphs deviate"}},
		{name: "another version has no profile", args: []string{"profile", "check", "-dir", dir, "-version", "sha256:bb", attack},
			stdout: []string{"no profile for openfaas-fn/node-server@sha256:bb"}},
		{name: "show unknown", args: []string{"profile", "show", "-dir", dir, "nobody"}, code: 1, stderr: `no profile matches "nobody"`},
		{name: "delete needs a version", args: []string{"profile", "delete", "-dir", dir, "node-server"}, code: 1, stderr: "name the version"},
		{name: "without -version, the graphs' own", args: []string{"profile", "check", "-dir", dir, attack},
			stdout: []string{"no profile for openfaas-fn/node-server@unversioned"}},
		{name: "import garbage", args: []string{"profile", "import", "-dir", dir, "-"}, stdin: "profiles: [1, 2",
			code: 1, stderr: "invalid profile"},
		{name: "bad config", args: []string{"profile", "show", "-dir", dir, "-max-missing", "2"}, code: 2, stderr: "max missing mass"},
		{name: "usage", args: []string{"profile"}, code: 2, stderr: "usage:"},
		{name: "unknown subcommand", args: []string{"profile", "frobnicate"}, code: 2, stderr: "usage:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errs, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errs)
			}
		})
	}

	// Export, review, import elsewhere: the same profile.
	file := filepath.Join(tmp, "profiles.yaml")
	if code, _, errs := runCLI(t, "", "profile", "export", "-dir", dir, "-o", file); code != 0 {
		t.Fatal(errs)
	}
	if code, out, errs := runCLI(t, "", "profile", "import", "-dir", dir, "-dry-run", file); code != 0 || !strings.Contains(out, "valid openfaas-fn/node-server@sha256:aa: armed, 112 graphs") {
		t.Fatal(out, errs)
	}
	other := filepath.Join(tmp, "other")
	if code, out, errs := runCLI(t, "", "profile", "import", "-dir", other, file); code != 0 || !strings.Contains(out, "imported") {
		t.Fatal(out, errs)
	}
	_, a, _ := runCLI(t, "", "profile", "export", "-dir", dir)
	_, b, _ := runCLI(t, "", "profile", "export", "-dir", other)
	if a != b || !strings.Contains(a, "function: node-server") {
		t.Errorf("export after import differs:\n%s\n---\n%s", a, b)
	}
	if code, out, _ := runCLI(t, "", "profile", "check", "-dir", other, "-version", "sha256:aa", attack); code != 0 || !strings.Contains(out, "1 of 1 graphs deviate") {
		t.Errorf("imported profile: %s", out)
	}
	if code, out, errs := runCLI(t, "", "profile", "delete", "-dir", other, "node-server@sha256:aa"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatal(out, errs)
	}
	if _, out, _ := runCLI(t, "", "profile", "show", "-dir", other); strings.Contains(out, "node-server") {
		t.Errorf("deleted profile still listed:\n%s", out)
	}
}
