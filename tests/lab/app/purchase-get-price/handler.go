package function

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Order is what purchase-authenticate sends.
type Order struct {
	User   string          `json:"user"`
	Items  []Item          `json:"items"`
	Region string          `json:"region"`
	Card   json.RawMessage `json:"card"`
	// FraudRules is passed on untouched to authorize-cc.
	FraudRules json.RawMessage `json:"fraud_rules,omitempty"`
	Total      float64         `json:"total,omitempty"`
	Tax        float64         `json:"tax,omitempty"`
}

// Item is one basket line.
type Item struct {
	ID    string  `json:"id"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price,omitempty"`
}

var client = &http.Client{Timeout: 20 * time.Second}

func gateway() string {
	if v := os.Getenv("gateway_url"); v != "" {
		return v
	}
	return "http://gateway.openfaas:8080"
}

// taxRates reads the table next to the handler (the function's own dir).
func taxRates() (map[string]float64, error) {
	dir := "."
	if exe, err := os.Executable(); err == nil {
		dir = filepath.Dir(exe)
	}
	for _, p := range []string{filepath.Join(dir, "tax-rates.json"), "tax-rates.json", "function/tax-rates.json"} {
		if b, err := os.ReadFile(p); err == nil {
			var m map[string]float64
			return m, json.Unmarshal(b, &m)
		}
	}
	return map[string]float64{"default": 0.2}, nil
}

func call(method, u, callID string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if callID != "" {
		req.Header.Set("X-Call-Id", callID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Handle prices the order and forwards it.
func Handle(w http.ResponseWriter, r *http.Request) {
	callID := r.Header.Get("X-Call-Id")
	var o Order
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&o); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "malformed order"})
		return
	}
	if len(o.Items) == 0 || len(o.Items) > 50 {
		reply(w, http.StatusBadRequest, map[string]string{"error": "1..50 items"})
		return
	}
	rates, err := taxRates()
	if err != nil {
		reply(w, http.StatusInternalServerError, map[string]string{"error": "tax table: " + err.Error()})
		return
	}
	var subtotal float64
	for i, it := range o.Items {
		st, b, err := call(http.MethodGet, gateway()+"/function/product-catalog-api?id="+url.QueryEscape(it.ID), callID, nil)
		if err != nil || st != http.StatusOK {
			reply(w, http.StatusBadGateway, map[string]string{"error": fmt.Sprintf("catalog lookup %s: %v (HTTP %d)", it.ID, err, st)})
			return
		}
		var res struct {
			Products []struct {
				Price float64 `json:"price"`
			} `json:"products"`
		}
		if json.Unmarshal(b, &res) != nil || len(res.Products) == 0 {
			reply(w, http.StatusNotFound, map[string]string{"error": "no product " + it.ID})
			return
		}
		qty := max(it.Qty, 1)
		o.Items[i].Price = res.Products[0].Price
		subtotal += res.Products[0].Price * float64(qty)
	}
	rate, ok := rates[o.Region]
	if !ok {
		rate = rates["default"]
	}
	o.Tax = math.Round(subtotal*rate*100) / 100
	o.Total = math.Round((subtotal+o.Tax)*100) / 100
	body, _ := json.Marshal(o)
	st, b, err := call(http.MethodPost, gateway()+"/function/purchase-authorize-cc", callID, body)
	if err != nil {
		reply(w, http.StatusBadGateway, map[string]string{"error": "authorize-cc: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	_, _ = w.Write(b)
}
