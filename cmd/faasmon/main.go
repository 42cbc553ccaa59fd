package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faasmon/faasmon/pkg/classify/profile"
	"github.com/faasmon/faasmon/pkg/envconf"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

const usage = `usage:
  faasmon profile show   [-dir D] [FUNCTION[@VERSION]...]    list profiles, or detail the named ones
  faasmon profile export [-dir D] [-o FILE] [FUNCTION[@VERSION]...]
                                                            YAML to review, edit and commit
  faasmon profile import [-dir D] [-dry-run] FILE|-         load (replace) profiles from YAML
  faasmon profile learn  [-dir D] [-version V] [-arm] GRAPH.json|DIR...
                                                            learn benign graphs (faasmon-graph's archive)
  faasmon profile check  [-dir D] [-version V] GRAPH.json|DIR...
                                                            report the deviations of graphs
  faasmon profile delete [-dir D] FUNCTION@VERSION...       forget profiles (they learn again)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// maxGraphBytes bounds one graph file (faasmon-classify's request limit).
const maxGraphBytes = 32 << 20

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext runs one subcommand; ctx ends the long-running ones (alerts).
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 1 && args[0] == "alerts" {
		return alerts(ctx, args[1:], stdout, stderr)
	}
	if len(args) < 2 || args[0] != "profile" {
		fmt.Fprint(stderr, usage+alertsUsage[len("usage:\n"):])
		return 2
	}
	cmd := args[1]
	fs := flag.NewFlagSet("faasmon profile "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", env.NonEmpty("FAASMON_PROFILE_DIR", "/var/tmp/faasmon/profiles"), "profile directory (faasmon-classify's)")
	var cfg profile.Config
	fs.IntVar(&cfg.LearnGraphs, "learn-graphs", 0, "graphs a profile learns before it arms (0: default 200, <0: no limit)")
	fs.DurationVar(&cfg.LearnFor, "learn-for", 0, "time a profile learns before it arms (0: default 24h, <0: no limit)")
	fs.IntVar(&cfg.MinGraphs, "min-graphs", 0, "graphs a dimension needs to arm (0: default 20)")
	fs.Float64Var(&cfg.MaxMissing, "max-missing", 0, "missing mass at most which a dimension arms (0: default 0.01)")
	fs.IntVar(&cfg.MaxValues, "max-values", 0, "values a dimension keeps (0: default 1024)")
	out := fs.String("o", "", "export: output file (default stdout)")
	dry := fs.Bool("dry-run", false, "import: validate only")
	version := fs.String("version", "", "learn, check: the function version of the graphs (default: each graph's image, as faasmon-classify does)")
	arm := fs.Bool("arm", false, "learn: arm the profiles afterwards")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "faasmon:", err)
		return 2
	}
	store := profile.FileStore{Dir: *dir}
	var err error
	switch cmd {
	case "show":
		err = show(stdout, store, cfg, fs.Args())
	case "export":
		err = export(stdout, store, cfg, fs.Args(), *out)
	case "import":
		err = importFile(stdin, stdout, store, cfg, fs.Args(), *dry)
	case "learn":
		err = learn(stdout, store, cfg, *version, fs.Args(), *arm)
	case "check":
		err = check(stdout, store, cfg, *version, fs.Args())
	case "delete":
		err = del(stdout, store, fs.Args())
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "faasmon:", err)
		return 1
	}
	return 0
}

// env is the command's environment; a variable set to "" is unset
// (envconf's NonEmpty), as for every flag default read from it.
var env = envconf.Lookup(os.LookupEnv)

// selectKeys returns the stored keys the patterns name: "fn" (every
// version), "fn@version", "ns/fn" or "ns/fn@version"; all with none.
func selectKeys(store profile.Store, patterns []string) ([]profile.Key, error) {
	keys, err := store.List()
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		return keys, nil
	}
	var out []profile.Key
	for _, pat := range patterns {
		n := 0
		for _, k := range keys {
			if matches(k, pat) {
				out = append(out, k)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no profile matches %q", pat)
		}
	}
	return out, nil
}

func matches(k profile.Key, pat string) bool {
	ns, rest, ok := strings.Cut(pat, "/")
	if !ok {
		ns, rest = "", pat
	}
	fn, ver, hasVer := strings.Cut(rest, "@")
	kns := k.Namespace
	if kns == "" {
		kns = "openfaas-fn"
	}
	return fn == k.Function && (ns == "" || ns == kns) && (!hasVer || ver == k.Version)
}

func load(store profile.Store, keys []profile.Key, cfg profile.Config) ([]*profile.Profile, error) {
	var ps []*profile.Profile
	for _, k := range keys {
		p, err := store.Load(k)
		if err != nil {
			return nil, err
		}
		if p != nil {
			p.Config = cfg
			ps = append(ps, p)
		}
	}
	return ps, nil
}

func show(w io.Writer, store profile.Store, cfg profile.Config, pats []string) error {
	keys, err := selectKeys(store, pats)
	if err != nil {
		return err
	}
	ps, err := load(store, keys, cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	if len(pats) == 0 {
		fmt.Fprintln(tw, "FUNCTION\tVERSION\tSTATE\tGRAPHS\tSKIPPED\tARMED DIMENSIONS")
		for _, p := range ps {
			var armed []string
			for _, d := range profile.Dimensions {
				if p.DimArmed(d) {
					armed = append(armed, string(d))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", p.Key.Function, p.Key.Version, p.State, p.Graphs, p.Skipped, strings.Join(armed, ","))
		}
		return nil
	}
	for _, p := range ps {
		fmt.Fprintf(tw, "%s: %s, %d graphs learnt, %d skipped\n", p.Key, p.State, p.Graphs, p.Skipped)
		fmt.Fprintln(tw, "DIMENSION\tMODE\tGRAPHS\tVALUES\tSINGLETONS\tMISSING MASS\tARMED\tOVERFLOW")
		for _, d := range profile.Dimensions {
			x := p.Dims[d]
			if x == nil {
				continue
			}
			mode := x.Mode
			if mode == "" {
				mode = profile.ModeAuto
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f%%\t%v\t%d\n", d, mode, x.Graphs, len(x.Values), x.Singletons(),
				100*x.MissingMass(), p.DimArmed(d), x.Overflow)
		}
		fmt.Fprintln(tw)
	}
	return nil
}

func export(w io.Writer, store profile.Store, cfg profile.Config, pats []string, out string) error {
	keys, err := selectKeys(store, pats)
	if err != nil {
		return err
	}
	ps, err := load(store, keys, cfg)
	if err != nil {
		return err
	}
	if out == "" {
		return profile.Export(w, ps, cfg)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := profile.Export(f, ps, cfg); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "exported %d profiles to %s\n", len(ps), out)
	return nil
}

func importFile(stdin io.Reader, w io.Writer, store profile.Store, cfg profile.Config, args []string, dry bool) error {
	if len(args) != 1 {
		return errors.New("import takes one file (or - for stdin)")
	}
	r := stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	ps, err := profile.Import(r)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	for _, p := range ps {
		p.Config = cfg
		var armed int
		for _, d := range profile.Dimensions {
			if p.DimArmed(d) {
				armed++
			}
		}
		verb := "imported"
		if dry {
			verb = "valid"
		} else if err := store.Update(p.Key, func(*profile.Profile) (*profile.Profile, error) { return p, nil }); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %s: %s, %d graphs, %d dimensions armed\n", verb, p.Key, p.State, p.Graphs, armed)
	}
	return nil
}

// graphFiles expands directories into their *.json files.
func graphFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no graph files")
	}
	return files, nil
}

// readGraphs reads graph files in the order of their graphs' end times,
// as the classifier would have seen them.
func readGraphs(args []string) ([]*provenance.Graph, error) {
	files, err := graphFiles(args)
	if err != nil {
		return nil, err
	}
	var gs []*provenance.Graph
	for _, f := range files {
		g, err := readGraph(f)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].End.Before(gs[j].End) })
	return gs, nil
}

func readGraph(p string) (*provenance.Graph, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxGraphBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > maxGraphBytes {
		return nil, fmt.Errorf("%s: over %d bytes", p, maxGraphBytes)
	}
	var g provenance.Graph
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &g, nil
}

func learn(w io.Writer, store profile.Store, cfg profile.Config, version string, args []string, arm bool) error {
	gs, err := readGraphs(args)
	if err != nil {
		return err
	}
	l := &profile.Learner{Store: store, Config: cfg}
	type tally struct{ learnt, armed int }
	per := map[profile.Key]*tally{}
	var order []profile.Key
	for _, g := range gs {
		if g.Label == "attack" {
			// A labelled dataset's attack graphs are never learnt.
			continue
		}
		res, err := l.Observe(versionOf(g, version), g, nil, true)
		if err != nil {
			return err
		}
		t := per[res.Key]
		if t == nil {
			t = &tally{}
			per[res.Key] = t
			order = append(order, res.Key)
		}
		if res.Learnt {
			t.learnt++
		} else {
			t.armed++
		}
	}
	for _, k := range order {
		state := profile.Learning
		if arm {
			err := store.Update(k, func(p *profile.Profile) (*profile.Profile, error) {
				if p == nil {
					return nil, nil
				}
				p.Arm(time.Now())
				return p, nil
			})
			if err != nil {
				return err
			}
		}
		p, err := store.Load(k)
		if err != nil {
			return err
		}
		if p != nil {
			state = p.State
		}
		fmt.Fprintf(w, "%s: learnt %d graphs (%d more not learnt: armed), %s\n", k, per[k].learnt, per[k].armed, state)
	}
	return nil
}

func check(w io.Writer, store profile.Store, cfg profile.Config, version string, args []string) error {
	gs, err := readGraphs(args)
	if err != nil {
		return err
	}
	flagged := 0
	for _, g := range gs {
		k := profile.KeyOf(g, versionOf(g, version))
		p, err := store.Load(k)
		if err != nil {
			return err
		}
		switch {
		case p == nil:
			fmt.Fprintf(w, "%s: no profile for %s\n", g.ID, k)
			continue
		case p.State != profile.Armed:
			fmt.Fprintf(w, "%s: profile %s is learning: nothing checked\n", g.ID, k)
			continue
		}
		p.Config = cfg
		fs := p.Check(g)
		if len(fs) > 0 {
			flagged++
		}
		for _, f := range fs {
			fmt.Fprintf(w, "%s: [%s] %s\n", g.ID, f.Rule, f.Text)
		}
	}
	fmt.Fprintf(w, "%d of %d graphs deviate from their profile\n", flagged, len(gs))
	return nil
}

// versionOf is the -version flag, or the graph's own version.
func versionOf(g *provenance.Graph, flag string) string {
	if flag != "" {
		return flag
	}
	return profile.VersionOf(g)
}

func del(w io.Writer, store profile.Store, args []string) error {
	if len(args) == 0 {
		return errors.New("delete names FUNCTION@VERSION")
	}
	for _, a := range args {
		if !strings.Contains(a, "@") {
			return fmt.Errorf("%q: name the version (FUNCTION@VERSION)", a)
		}
		keys, err := selectKeys(store, []string{a})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := store.Delete(k); err != nil {
				return err
			}
			fmt.Fprintf(w, "deleted %s\n", k)
		}
	}
	return nil
}
