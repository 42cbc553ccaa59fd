package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// postJSON POSTs body and maps the status: 2xx is success; 4xx other than
// 408, 425 and 429 is permanent; anything else may be retried.
func postJSON(ctx context.Context, c *http.Client, url string, headers map[string]string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "faasmon-alert")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", redactURL(url), resp.Status, strings.TrimSpace(string(msg)))
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return err
	}
	if resp.StatusCode/100 == 4 {
		return Permanent(err)
	}
	return err
}

// redactURL keeps scheme and host: webhook URLs often carry their token in
// the path (Slack) and must not reach logs.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			return u[:i+3+j] + "/…"
		}
	}
	return u
}

// WebhookSink POSTs the Alert as JSON. With a Token it sends
// "Authorization: Bearer <token>".
type WebhookSink struct {
	URL    string
	Token  string
	Client *http.Client
}

func (s *WebhookSink) Name() string { return "webhook" }

func (s *WebhookSink) Send(ctx context.Context, a Alert) error {
	var h map[string]string
	if s.Token != "" {
		h = map[string]string{"Authorization": "Bearer " + s.Token}
	}
	return postJSON(ctx, s.Client, s.URL, h, a)
}

// SlackSink POSTs to a Slack incoming webhook: {"text": "..."}.
type SlackSink struct {
	URL    string
	Client *http.Client
}

// SlackMessage is the body of a Slack incoming-webhook call.
type SlackMessage struct {
	Text string `json:"text"`
}

func (s *SlackSink) Name() string { return "slack" }

func (s *SlackSink) Send(ctx context.Context, a Alert) error {
	return postJSON(ctx, s.Client, s.URL, nil, SlackMessage{Text: SlackText(a)})
}

// slackEscape escapes what Slack's mrkdwn treats as control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

// SlackText is the alert as one Slack mrkdwn message.
func SlackText(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":rotating_light: *%s* (%s) in `%s`", slackEscape(a.Rule), slackEscape(a.Priority), slackEscape(qualified(a.Function, a.Namespace)))
	var where []string
	for _, kv := range [][2]string{{"pod", a.Pod}, {"container", a.Container}, {"node", a.Node}, {"call", a.CallID}} {
		if kv[1] != "" {
			where = append(where, kv[0]+" `"+slackEscape(kv[1])+"`")
		}
	}
	if len(where) > 0 {
		b.WriteString(" — " + strings.Join(where, ", "))
	}
	fmt.Fprintf(&b, "\nscore %.3f (threshold %.3f)", a.Score, a.Threshold)
	if a.ModelVersion != "" {
		fmt.Fprintf(&b, ", model %s", slackEscape(a.ModelVersion))
	}
	if a.Chain != "" {
		b.WriteString("\n`" + slackEscape(a.Chain) + "`")
	}
	if a.Action != nil {
		fmt.Fprintf(&b, "\nresponse: %s %s", slackEscape(a.Action.Kind), slackEscape(a.Action.Status))
		if a.Action.Error != "" {
			b.WriteString(" (" + slackEscape(a.Action.Error) + ")")
		}
	}
	if a.Suppressed > 0 {
		fmt.Fprintf(&b, "\n%d repeats suppressed in the previous window", a.Suppressed)
	}
	return b.String()
}

func qualified(fn, ns string) string {
	if ns == "" {
		return fn
	}
	return fn + "." + ns
}

// WriterSink writes each alert as one JSON line (stdout in the function, so
// the alerts are in its logs).
type WriterSink struct {
	W  io.Writer
	mu sync.Mutex
}

func (s *WriterSink) Name() string { return "stdout" }

func (s *WriterSink) Send(_ context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return Permanent(err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.W.Write(b)
	return err
}

// httpClient is the client of the HTTP sinks built from Config: no global
// timeout (attempts have their own), no redirects to other hosts' secrets.
func httpClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 0 && req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}
