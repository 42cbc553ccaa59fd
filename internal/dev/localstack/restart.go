package localstack

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Components of the stack that Stop and Restart take (also the names of
// their pid and log files).
const (
	ComponentNATS        = cNATS
	ComponentPrometheus  = cPrometheus
	ComponentProvider    = cProvider
	ComponentGateway     = cGateway
	ComponentQueueWorker = cWorker
)

// Stop stops one component of the stack and leaves the others running, as a
// crash or an operator would (fault tests: the gateway going away under the
// tracer). It is SIGTERM, then SIGKILL after the grace Down gives the same
// component. A component that is not running is not an error.
func (s *Stack) Stop(component string) error {
	if !slices.Contains(stopOrder, component) {
		return fmt.Errorf("stop %q: not a component of the stack (want one of %v)", component, stopOrder)
	}
	if err := stopDaemon(s.Dirs, component, stopGrace(component)); err != nil {
		return fmt.Errorf("stop %s: %w", component, err)
	}
	return nil
}

// Restart stops component if it runs and starts it again; on a component
// that Stop left down it only starts it. The start is Up's, which starts
// whatever part of the stack is missing and waits until all of it is
// healthy: the component comes back with exactly the command line,
// environment and readiness check of a normal start.
func (s *Stack) Restart(ctx context.Context, component string) error {
	if err := s.Stop(component); err != nil {
		return err
	}
	if err := s.Up(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", component, err)
	}
	return nil
}

// stopGrace is how long a component gets between SIGTERM and SIGKILL (the
// same as in Down): the provider stops its functions first.
func stopGrace(component string) time.Duration {
	if component == cProvider {
		return 20 * time.Second
	}
	return 3 * time.Second
}
