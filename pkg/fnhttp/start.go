package fnhttp

import (
	"context"
	"sync"
)

var starters struct {
	sync.Mutex
	fns []func(context.Context)
}

// OnStart registers f to run when the function's server starts listening
// (the faasmon-go template's main calls Start), for work that must not wait
// for a first request: faasmon-alert's outbox consumer, which has to pick up
// redelivered verdicts right after a restart. Handlers call it from init;
// registering does no work, so handler tests are unaffected.
func OnStart(f func(context.Context)) {
	starters.Lock()
	defer starters.Unlock()
	starters.fns = append(starters.fns, f)
}

// Start runs the registered functions, each in its own goroutine.
func Start(ctx context.Context) {
	starters.Lock()
	defer starters.Unlock()
	for _, f := range starters.fns {
		go f(ctx)
	}
}

var stoppers struct {
	sync.Mutex
	fns []func()
}

// OnStop registers f to run once the function's server stopped serving
// (SIGTERM: the faasmon-go template's main calls Stop after its graceful
// shutdown, so no call is still running), for what a handler keeps in
// memory between calls: faasmon-classify's learnt graphs not yet written.
func OnStop(f func()) {
	stoppers.Lock()
	defer stoppers.Unlock()
	stoppers.fns = append(stoppers.fns, f)
}

// Stop runs the functions OnStop registered, in order, and returns when
// all have.
func Stop() {
	stoppers.Lock()
	defer stoppers.Unlock()
	for _, f := range stoppers.fns {
		f()
	}
}
