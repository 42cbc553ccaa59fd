package ebpf

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the probe's node-wide counters of records no stream
// received, for the tracer's registry: nothing the kernel recorded is
// dropped without a count. (Records the kernel could not write, a full
// ring, are each container's and reach its stream: Stream.Dropped.)
func (p *Probe) Collectors() []prometheus.Collector {
	counter := func(name, help string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		counter("faasmon_tracer_ebpf_records_unrouted_total",
			"eBPF records of a cgroup no stream subscribed to any more (a detach that gave up draining the ring).", p.Unrouted),
		counter("faasmon_tracer_ebpf_records_expired_total",
			"eBPF records of containers followed from creation that no stream claimed in time (PendingAge, PendingBytes).", p.Expired),
		counter("faasmon_tracer_ebpf_detach_undrained_total",
			"Detaches that stopped waiting for their records still in the ring (DrainWait).", p.Undrained),
	}
}
