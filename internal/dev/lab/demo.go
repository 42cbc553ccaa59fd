package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/stan.go"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// DemoOptions configure Demo.
type DemoOptions struct {
	Repo string
	Out  string
	W    io.Writer
	// KeepUp leaves the stack running at the end.
	KeepUp bool
}

// Demo is `make demo`: it brings the local stack up (and down again if it
// started it), deploys the victim app and the detector with the tracer,
// plays tests/lab/scenarios/demo.yaml (benign traffic, then the two-stage
// container-reuse attack), and shows the alerts as they arrive on the
// queue, with their explanation chain, an SVG of the suspicious subgraph
// and what the response did to the attack's second stage.
func Demo(ctx context.Context, o DemoOptions) error {
	if o.W == nil {
		o.W = os.Stdout
	}
	if o.Out == "" {
		o.Out = filepath.Join(os.TempDir(), "faasmon-demo")
	}
	_ = os.RemoveAll(o.Out)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.W, "demo: "+format+"\n", a...) }

	stateDir := localstack.StateDirFromEnv()
	st, err := localstack.NewStack(stateDir, o.Repo)
	if err != nil {
		return err
	}
	if !st.Healthy(ctx) {
		say("starting the local OpenFaaS stack (gateway, NATS Streaming, queue-worker, Prometheus, provider)")
		if err := st.Up(ctx); err != nil {
			return err
		}
		if !o.KeepUp {
			defer func() {
				say("stopping the local stack")
				_ = st.Down(context.Background())
			}()
		}
	}

	sc, err := stan.Connect(localstack.NATSClusterID, fmt.Sprintf("faasmon-demo-%d", time.Now().UnixNano()),
		stan.NatsURL("nats://127.0.0.1:4222"), stan.ConnectWait(3*time.Second))
	if err != nil {
		return fmt.Errorf("connect to the queue server: %w", err)
	}
	defer sc.Close()
	var mu sync.Mutex
	var alerts []alert.Alert
	sub, err := sc.Subscribe(streaming.AlertChannel, func(m *stan.Msg) {
		var a alert.Alert
		if json.Unmarshal(m.Data, &a) != nil {
			return
		}
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
		printAlert(o.W, a)
	}, stan.StartAtTime(time.Now()))
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", streaming.AlertChannel, err)
	}
	defer sub.Close()
	say("listening for alerts on NATS Streaming channel %q", streaming.AlertChannel)

	res, err := Run(ctx, Options{
		Repo: o.Repo, Out: o.Out, Detector: true, Graphs: GraphArchive, StackDir: stateDir, SkipUp: true,
		Scenarios: []string{filepath.Join(o.Repo, "tests", "lab", "scenarios", "demo.yaml")},
		GraphIdle: 8 * time.Second, GraphTimeout: 90 * time.Second,
		VerdictIdle: 5 * time.Second, VerdictTimeout: 30 * time.Second,
		Log: prefixWriter{o.W},
	})
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	say("%d invocations played, %d graphs, %d alerts", len(res.Invocations), res.Summary.Graphs, len(alerts))
	if len(alerts) == 0 {
		return fmt.Errorf("no alert: the attack went unseen (see %s)", o.Out)
	}
	for i, a := range alerts {
		if a.DOT == "" {
			continue
		}
		svg := filepath.Join(o.Out, fmt.Sprintf("alert-%d.svg", i+1))
		cmd := exec.CommandContext(ctx, "dot", "-Tsvg", "-o", svg)
		cmd.Stdin = strings.NewReader(a.DOT)
		if err := cmd.Run(); err != nil {
			say("render alert %d: %v", i+1, err)
			continue
		}
		say("suspicious subgraph of alert %d (%s): %s", i+1, a.Function, svg)
	}
	reportResponse(o.W, alerts, res)
	return nil
}

// reportResponse tells whether the planted payload still ran after the
// container was recycled: the attacker host records every exfiltration.
func reportResponse(w io.Writer, alerts []alert.Alert, res Result) {
	var recycled time.Time
	for _, a := range alerts {
		if a.Action != nil && a.Action.Status == alert.ActionDone && (recycled.IsZero() || a.Action.Time.Before(recycled)) {
			recycled = a.Action.Time
		}
	}
	if recycled.IsZero() {
		fmt.Fprintln(w, "demo: response: no container was recycled")
		return
	}
	var before, after, stage2After int
	for _, r := range res.Attacker {
		if !strings.HasPrefix(r.Path, "/exfil") {
			continue
		}
		if r.Time.Before(recycled) {
			before++
		} else {
			after++
		}
	}
	for _, inv := range res.Invocations {
		if inv.Step == "stage2-trigger" && inv.Start.After(recycled) {
			stage2After++
		}
	}
	fmt.Fprintf(w, "demo: response: container recycled at %s; exfiltrations before %d, after %d; %d stage-2 calls after the recycle found a fresh container\n",
		recycled.Format("15:04:05.000"), before, after, stage2After)
}

func printAlert(w io.Writer, a alert.Alert) {
	act := "none"
	if a.Action != nil {
		act = a.Action.Kind + " " + a.Action.Status
	}
	var procs []string
	for _, p := range a.ProcessChain {
		procs = append(procs, p.Name)
	}
	why := a.Source
	if len(a.NovelEndpoints) > 0 {
		why += ": " + strings.Join(a.NovelEndpoints, ", ") + " never reached by this function in benign training"
	}
	// Every part that found something, in its own words: the rule or
	// profile dimension, the ATT&CK technique, the evidence.
	for i, f := range a.Findings {
		if i == 0 {
			why = ""
		} else {
			why += "\n           "
		}
		tag := f.Part
		if f.Rule != "" {
			tag += " " + f.Rule
		}
		if f.Technique != "" {
			tag += " " + f.Technique
		}
		why += tag + ": " + f.Text
	}
	fmt.Fprintf(w, "\nALERT %s  function=%s container=%s window=%s call=%s score=%.3f (threshold %.2f)\n  why:     %s\n  chain:   %s\n  process: %s\n  action:  %s\n\n",
		a.Time.Format("15:04:05.000"), a.Function, a.Container, a.Window, a.CallID, a.Score, a.Threshold,
		why, a.Chain, strings.Join(procs, " → "), act)
}

// prefixWriter indents the runner's log under the demo's own lines.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	_, err := io.WriteString(p.w, "  "+string(b))
	return len(b), err
}
