package fnhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLargestArray(t *testing.T) {
	for _, c := range []struct {
		name, body     string
		largest, total int
		err            bool
	}{
		{"graph", `{"version":1,"nodes":[{"id":0},{"id":1,"label":"a,b]"}],"edges":[{"src":0,"dst":1}]}`, 2, 2, false},
		{"batch of graphs", `[{"nodes":[1,2,3]},{"nodes":[{"x":[1,2]}]},{"nodes":[]}]`, 3, 4, false},
		{"verdict: graph, explanation and finding nodes", `{"graph":{"nodes":[{},{},{}]},"explanation":{"nodes":[{"id":1}]},"findings":[{"nodes":[1,2]}]}`, 3, 6, false},
		{"names the decoder folds to nodes", `{"NODES":[1,2],"node\u0073":[1,2,3],"Nodeſ":[1]}`, 3, 6, false},
		{"key as a value is not a member name", `{"a":"nodes","b":["nodes",[1,2,3]]}`, 0, 0, false},
		{"nested arrays count as one element", `{"nodes":[[1,2],[3],[]]}`, 3, 3, false},
		{"strings with escapes and brackets", `{"nodes":["a\"]",  "b\\", "{"]}`, 3, 3, false},
		{"literals", `{"nodes":[true,false,null,-1.5e3, 2]}`, 5, 5, false},
		{"nodes not an array", `{"nodes":{"a":1}}`, 0, 0, false},
		{"unbalanced", `{"nodes":[1,2}`, 0, 0, true},
		{"unterminated string", `{"nodes":["abc`, 0, 0, true},
		{"unclosed", `{"nodes":[1`, 0, 0, true},
		{"too deep", strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, tot, err := LargestArray([]byte(c.body), "nodes", 0)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if err != nil {
				if !errors.Is(err, ErrJSONSyntax) {
					t.Errorf("error %v does not wrap ErrJSONSyntax", err)
				}
				return
			}
			if l != c.largest || tot != c.total {
				t.Errorf("largest, total = %d, %d; want %d, %d", l, tot, c.largest, c.total)
			}
		})
	}
}

func TestCheckArrays(t *testing.T) {
	body := []byte(`[{"nodes":[1,2,3]},{"nodes":[1,2,3]}]`)
	var fe *Error
	if err := CheckArrays(body, "nodes", 2, 0); !errors.As(err, &fe) || fe.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("largest over: %v, want 413", err)
	}
	if err := CheckArrays(body, "nodes", 3, 5); !errors.As(err, &fe) || fe.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("total over: %v, want 413", err)
	}
	if err := CheckArrays(body, "nodes", 3, 6); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	// Malformed input is the decoder's to report.
	if err := CheckArrays([]byte(`{"nodes":[`), "nodes", 1, 1); err != nil {
		t.Errorf("malformed: %v, want nil (left to the decoder)", err)
	}
}

func TestReadBodyLimits(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   string
		length int64
		status int
	}{
		{"declared over the limit", strings.Repeat("x", 10), 11, http.StatusRequestEntityTooLarge},
		{"undeclared over the limit", strings.Repeat("x", 11), -1, http.StatusRequestEntityTooLarge},
		{"declared longer than sent", "abc", 5, http.StatusBadRequest},
		{"at the limit", strings.Repeat("x", 10), 10, 0},
		{"undeclared at the limit", strings.Repeat("x", 10), -1, 0},
		{"empty", "", 0, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
			r.ContentLength = c.length
			b, err := ReadBody(httptest.NewRecorder(), r, 10)
			var fe *Error
			switch {
			case c.status == 0 && err != nil:
				t.Fatalf("err %v", err)
			case c.status == 0 && string(b) != c.body:
				t.Errorf("body %q", b)
			case c.status != 0 && (!errors.As(err, &fe) || fe.Status != c.status):
				t.Errorf("err %v, want status %d", err, c.status)
			}
		})
	}
}

// FuzzLargestArray: never panics, and on input encoding/json accepts the
// count equals what decoding finds.
func FuzzLargestArray(f *testing.F) {
	for _, s := range []string{`{"nodes":[1,2]}`, `[{"nodes":[{"nodes":[1]}]}]`, `{"a":"nodes","nodes":["]",{}]}`, `{"nodes":[`, `"\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, tot, err := LargestArray(b, "nodes", 0)
		if l > tot || l < 0 {
			t.Fatalf("largest %d > total %d", l, tot)
		}
		var v any
		if err != nil || json.Unmarshal(b, &v) != nil {
			return
		}
		wl, wt := 0, 0
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for k, y := range x {
					if a, ok := y.([]any); ok && k == "nodes" {
						wl, wt = max(wl, len(a)), wt+len(a)
					}
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(v)
		// Duplicate member names: the decoder keeps the last, the scan
		// counts all, so the scan may only count more.
		if l < wl || tot < wt {
			t.Fatalf("scan %d/%d, decoded %d/%d for %q", l, tot, wl, wt, b)
		}
	})
}
