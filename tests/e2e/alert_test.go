package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/stan.go"
	"github.com/openfaas/faas-provider/types"

	"github.com/faasmon/faasmon/internal/dev/localstack"
	"github.com/faasmon/faasmon/pkg/alert"
	"github.com/faasmon/faasmon/pkg/graph/provenance"
	"github.com/faasmon/faasmon/pkg/hopauth"
	"github.com/faasmon/faasmon/pkg/invoke"
	"github.com/faasmon/faasmon/pkg/provider"
	"github.com/faasmon/faasmon/pkg/streaming"
)

// receiver records alerts by graph id with their arrival times: the NATS
// Streaming channel's subscriber and the webhook sink's HTTP endpoint.
type receiver struct {
	mu  sync.Mutex
	got map[string][]arrival
}

type arrival struct {
	at time.Time
	a  alert.Alert
}

func newReceiver() *receiver { return &receiver{got: map[string][]arrival{}} }

func (r *receiver) add(a alert.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[a.GraphID] = append(r.got[a.GraphID], arrival{time.Now(), a})
}

func (r *receiver) first(id string) (arrival, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got[id]) == 0 {
		return arrival{}, false
	}
	return r.got[id][0], true
}

// all returns every arrival, in no particular order.
func (r *receiver) all() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []arrival
	for _, as := range r.got {
		out = append(out, as...)
	}
	return out
}

// subscribeAlerts records the alerts published on the NATS Streaming alert
// channel from now on, until the test ends.
func subscribeAlerts(t *testing.T, clientID string) *receiver {
	t.Helper()
	r := newReceiver()
	sc, err := stan.Connect(localstack.NATSClusterID, clientID, stan.NatsURL("nats://127.0.0.1:4222"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	sub, err := sc.Subscribe(streaming.AlertChannel, func(m *stan.Msg) {
		var a alert.Alert
		if json.Unmarshal(m.Data, &a) == nil {
			r.add(a)
		}
	}, stan.StartAtTime(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return r
}

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[id])
}

// waitAll waits until every id arrived at both receivers.
func waitAll(t *testing.T, ids []string, within time.Duration, rs ...*receiver) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing := 0
		for _, r := range rs {
			for _, id := range ids {
				if r.count(id) == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts missing after %v", missing, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The alert stage through the real queue: attack verdicts of classify's
// async calls reach the NATS Streaming channel and a webhook receiver within
// 5 s; then faasmon-alert is killed (SIGKILL) while a burst of alerts is in
// flight, and none is lost. Which path brought each alert is in its
// "delivery" field: the queue-worker's callback, or — for the verdicts
// whose callback hit the dead function, which the CE queue-worker drops —
// the outbox (pkg/outbox), redelivered by NATS Streaming.
func TestAlertDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys the detector on the local stack")
	}
	st := localstack.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sdk, err := localstack.Client(st.Dirs)
	if err != nil {
		t.Fatal(err)
	}

	// The webhook receiver listens on all interfaces: functions reach the
	// host through gateway.openfaas, their namespace's host side.
	hook := newReceiver()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alert.Alert
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&a); err != nil {
			// A POST cut short by the SIGKILL below: the sink sees the
			// failure and the alert comes again (outbox); not a test error.
			t.Logf("webhook body: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		hook.add(a)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	hookURL := fmt.Sprintf("http://gateway.openfaas:%d/hook", ln.Addr().(*net.TCPAddr).Port)
	secret := types.Secret{Name: alert.SecretWebhookURL, Value: hookURL}
	if _, err := sdk.CreateSecret(ctx, secret); err != nil {
		if _, err := sdk.UpdateSecret(ctx, secret); err != nil {
			t.Fatalf("secret %s: %v", secret.Name, err)
		}
	}
	t.Cleanup(func() { sdk.DeleteSecret(context.Background(), secret.Name, "") })

	// classify and alert from the repository's stack.yml, alert with the
	// webhook secret too (the file lives beside stack.yml so that its
	// handler paths resolve the same).
	stackFile := withWebhookSecret(t, st.Repo)
	for _, fn := range []string{"faasmon-classify", "faasmon-alert"} {
		if _, err := localstack.DeployStack(ctx, localstack.DeployOptions{StackFile: stackFile, Filter: fn, Repo: st.Repo, Dirs: st.Dirs, Log: testWriter{t}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, fn := range []string{"faasmon-classify", "faasmon-alert"} {
			sdk.DeleteFunction(context.Background(), fn, "")
		}
	})
	waitReady(t, ctx, "faasmon-classify", "faasmon-alert")

	nats := subscribeAlerts(t, "faasmon-e2e-alert")

	// Signed as faasmon-graph signs (the stack's hop key): faasmon-alert
	// acts only on verdicts of signed graphs.
	gw, err := invoke.New(localstack.GatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	gw.Keys = hopauth.FileSource(st.Dirs.HopKeyFile())
	base := readGraph(t, filepath.Join("testdata", "attack3-photo-receive.json"))
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	// classify's async call as faasmon-graph makes it; each graph its own
	// container, so that deduplication keeps every alert.
	send := func(i int) (string, time.Time) {
		g := base
		g.Container = fmt.Sprintf("e2e%s%03d", run, i)
		g.ID = "openfaas-fn.photo-receive." + g.Container + "/" + g.CallID
		body, _ := json.Marshal(&g)
		hdr := http.Header{"X-Callback-Url": {"http://gateway.openfaas:8080/async-function/faasmon-alert"}}
		t0 := time.Now()
		if _, err := gw.Async(ctx, "faasmon-classify", hopauth.KindGraph, url.Values{"graph": {"true"}}, body, hdr); err != nil {
			t.Fatal(err)
		}
		return g.ID, t0
	}

	t.Run("attacks reach NATS and the webhook within 5s", func(t *testing.T) {
		var ids []string
		sent := map[string]time.Time{}
		for i := range 3 {
			id, t0 := send(i)
			ids, sent[id] = append(ids, id), t0
			time.Sleep(200 * time.Millisecond)
		}
		waitAll(t, ids, 20*time.Second, nats, hook)
		for _, id := range ids {
			for name, r := range map[string]*receiver{"nats": nats, "webhook": hook} {
				a, _ := r.first(id)
				if d := a.at.Sub(sent[id]); d > 5*time.Second {
					t.Errorf("%s: alert for %s after %v", name, id, d)
				}
				if a.a.Chain == "" || a.a.Delivery != alert.DeliveryCallback {
					t.Errorf("%s: alert %+v", name, a.a)
				}
			}
		}
	})

	t.Run("killing faasmon-alert in flight loses no alert", func(t *testing.T) {
		pid := alertPID(t, ctx)
		const n = 12
		var ids []string
		for i := range n {
			id, _ := send(100 + i)
			ids = append(ids, id)
		}
		// Kill as soon as the first alert of the burst is out: the rest are
		// in the queue, in the callback, or in the outbox consumer's hands.
		deadline := time.Now().Add(20 * time.Second)
		for nats.count(ids[0]) == 0 && hook.count(ids[0]) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill faasmon-alert (pid %d): %v", pid, err)
		}
		t0 := time.Now()
		t.Logf("killed faasmon-alert pid %d", pid)
		// The outbox's redelivery waits out the stream's ack wait (30 s).
		waitAll(t, ids, 90*time.Second, nats, hook)
		by := map[string]int{}
		dups := 0
		for _, id := range ids {
			a, _ := nats.first(id)
			by[a.a.Delivery]++
			dups += nats.count(id) - 1
		}
		if by[alert.DeliveryOutbox] == 0 {
			t.Errorf("no alert came by the outbox: the kill did not hit alerts in flight (%v)", by)
		}
		t.Logf("all %d alerts arrived, the last %v after the kill: %d by the callback, %d by the outbox; %d duplicates (at-least-once)",
			n, time.Since(t0).Round(time.Millisecond), by[alert.DeliveryCallback], by[alert.DeliveryOutbox], dups)
		if newPID := alertPID(t, ctx); newPID == pid {
			t.Errorf("faasmon-alert was not restarted")
		}
	})
}

// withWebhookSecret writes a copy of stack.yml in which faasmon-alert also
// mounts the webhook URL secret.
func withWebhookSecret(t *testing.T, repo string) string {
	b, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n  faasmon-alert:\n")
	j := strings.Index(s[max(i, 0):], "    secrets:\n")
	if i < 0 || j < 0 {
		t.Fatal("stack.yml: no secrets list for faasmon-alert")
	}
	at := i + j + len("    secrets:\n")
	s = s[:at] + "      - " + alert.SecretWebhookURL + "\n" + s[at:]
	p := filepath.Join(repo, ".e2e-stack.yml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(p) })
	return p
}

func waitReady(t *testing.T, ctx context.Context, fns ...string) {
	t.Helper()
	for _, fn := range fns {
		for {
			res, err := http.Get(localstack.GatewayURL + "/function/" + fn)
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("%s not ready", fn)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// alertPID is faasmon-alert's process, from the provider's instances.
func alertPID(t *testing.T, ctx context.Context) int {
	t.Helper()
	for {
		insts, err := provider.FetchInstances(ctx, nil, localstack.ProviderURL)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range insts {
			if in.Function == "faasmon-alert" && in.PID > 0 {
				return in.PID
			}
		}
		if ctx.Err() != nil {
			t.Fatal("faasmon-alert has no instance")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readGraph(t *testing.T, path string) provenance.Graph {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g provenance.Graph
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}
