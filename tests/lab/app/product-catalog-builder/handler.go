package function

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Product is what a merchant sends.
type Product struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Category    string   `json:"category"`
	Price       float64  `json:"price"`
	Brand       string   `json:"brand,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

var (
	idRE       = regexp.MustCompile(`^p-[0-9]{3,8}$`)
	client     = &http.Client{Timeout: 10 * time.Second}
	cacheMu    sync.Mutex
	cacheFile  = "/tmp/categories.json"
	cacheTTL   = time.Minute
	auditFile  = "/tmp/builder-audit.log"
	maxBodyLen = int64(1 << 20)
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// categories returns the supplier's category list, from the /tmp cache
// when it is fresh.
func categories() (map[string]bool, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	var raw []byte
	if st, err := os.Stat(cacheFile); err == nil && time.Since(st.ModTime()) < cacheTTL {
		raw, _ = os.ReadFile(cacheFile)
	}
	if raw == nil {
		resp, err := client.Get(env("supplier_url", "http://10.65.0.2") + "/catalog/categories.json")
		if err != nil {
			return nil, fmt.Errorf("supplier: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("supplier: HTTP %d", resp.StatusCode)
		}
		if raw, err = io.ReadAll(io.LimitReader(resp.Body, maxBodyLen)); err != nil {
			return nil, err
		}
		_ = os.WriteFile(cacheFile, raw, 0o600)
	}
	var list struct {
		Categories []string `json:"categories"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	out := map[string]bool{}
	for _, c := range list.Categories {
		out[c] = true
	}
	return out, nil
}

func validate(p *Product, cats map[string]bool) error {
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case !idRE.MatchString(p.ID):
		return fmt.Errorf("id %q: want p-NNN", p.ID)
	case p.Name == "" || len(p.Name) > 200:
		return fmt.Errorf("name: 1..200 characters")
	case !cats[p.Category]:
		return fmt.Errorf("unknown category %q", p.Category)
	case p.Price <= 0 || p.Price > 100000:
		return fmt.Errorf("price %v out of range", p.Price)
	case len(p.Description) > 64<<10:
		return fmt.Errorf("description too long")
	}
	return nil
}

func audit(callID string, p Product, outcome string) {
	f, err := os.OpenFile(auditFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s call=%s id=%s category=%s outcome=%s\n", time.Now().UTC().Format(time.RFC3339Nano), callID, p.ID, p.Category, outcome)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Handle validates and registers one product.
func Handle(w http.ResponseWriter, r *http.Request) {
	callID := r.Header.Get("X-Call-Id")
	var p Product
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBodyLen)).Decode(&p); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "malformed product: " + err.Error()})
		return
	}
	cats, err := categories()
	if err != nil {
		reply(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	if err := validate(&p, cats); err != nil {
		audit(callID, p, "rejected")
		reply(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	body, _ := json.Marshal(p)
	req, _ := http.NewRequest(http.MethodPost, env("gateway_url", "http://gateway.openfaas:8080")+"/function/product-catalog-api", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if callID != "" {
		req.Header.Set("X-Call-Id", callID)
	}
	resp, err := client.Do(req)
	if err != nil {
		audit(callID, p, "catalog-unreachable")
		reply(w, http.StatusBadGateway, map[string]string{"error": "catalog: " + err.Error()})
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyLen))
	audit(callID, p, fmt.Sprintf("registered:%d", resp.StatusCode))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}
