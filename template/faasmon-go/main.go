//go:build faasmon_template

// Entry point of a faasmon-go function: an HTTP server calling the
// handler's Handle, as in OpenFaaS' golang-middleware template.
//
// In a cluster it runs behind of-watchdog (mode=http, upstream
// http://127.0.0.1:8082), so it listens on 8082 by default. On the local
// stack there is no watchdog: the provider sets port=8080 and this process
// is the one the proxy dials (and the one the tracer attaches to).
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/function"
	"github.com/faasmon/faasmon/pkg/fnhttp"
)

const defaultTimeout = 10 * time.Second

func main() {
	readTimeout := durationEnv("read_timeout", defaultTimeout)
	writeTimeout := durationEnv("write_timeout", defaultTimeout)
	port := os.Getenv("port")
	if port == "" {
		port = "8082"
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", function.Handle)
	s := &http.Server{
		Addr:           ":" + port,
		Handler:        mux,
		ReadTimeout:    readTimeout,
		WriteTimeout:   writeTimeout,
		MaxHeaderBytes: 1 << 20,
	}

	idle := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		// Let in-flight invocations finish, but no longer than one
		// write_timeout: a stuck handler must not hold the process.
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			log.Printf("[entrypoint] shutdown: %v", err)
		}
		// What handlers keep in memory goes to disk before exit.
		fnhttp.Stop()
		close(idle)
	}()

	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		log.Fatalf("[entrypoint] %v", err)
	}
	log.Printf("[entrypoint] listening on :%s", port)
	fnhttp.Start(context.Background())
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("[entrypoint] %v", err)
	}
	<-idle
}

// durationEnv reads "10", "10s" or "1m30s"; a bare number is seconds, as
// the watchdog reads it.
func durationEnv(key string, fallback time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return fallback
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	return fallback
}
