//go:build faasmon_template

// Entry point of a golang-middleware function on faasmon's local stack:
// the contract of OpenFaaS' golang-middleware template (the handler is the
// module handler/function, package function, with
// func Handle(w http.ResponseWriter, r *http.Request)), written for faasmon.
//
// In a cluster of-watchdog (mode=http) proxies to it on 8082; on the local
// stack there is no watchdog: the provider sets port=8080 and this process
// is the one the proxy dials and the tracer attaches to. The build tag
// keeps ./... from compiling it: handler/function only exists in the work
// dir the local builder lays out (see internal/dev/localstack/build.go).
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

	"handler/function"
)

const defaultTimeout = 10 * time.Second

func main() {
	readTimeout := durationEnv("read_timeout", defaultTimeout)
	writeTimeout := durationEnv("write_timeout", defaultTimeout)
	port := os.Getenv("port")
	if port == "" {
		port = "8082"
	}
	s := &http.Server{
		Addr:           ":" + port,
		Handler:        http.HandlerFunc(function.Handle),
		ReadTimeout:    readTimeout,
		WriteTimeout:   writeTimeout,
		MaxHeaderBytes: 1 << 20,
	}

	idle := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		// Let in-flight requests finish, for at most one write_timeout.
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			log.Printf("[entrypoint] shutdown: %v", err)
		}
		close(idle)
	}()

	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		log.Fatalf("[entrypoint] %v", err)
	}
	log.Printf("[entrypoint] listening on :%s", port)
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
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	return fallback
}
