package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFetchInstances(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // error substring; "" = ok
	}{
		{"list", 200, `[{"function":"f","id":"a1","pid":7}]`, ""},
		{"provider error", 500, `boom`, "500"},
		{"not JSON", 200, `<html>`, "decode instances"},
		{"truncated at the bound", 200, `[{"function":"` + strings.Repeat("x", maxInstancesBody) + `"}]`, "decode instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != InstancesPath {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			got, err := FetchInstances(context.Background(), nil, srv.URL+"/")
			if tc.want == "" {
				if err != nil || len(got) != 1 || got[0].Function != "f" || got[0].PID != 7 {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
