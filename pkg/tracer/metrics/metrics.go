package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// Drop reasons.
const (
	ReasonQueueFull = "queue_full" // dropped oldest to make room (backpressure)
	ReasonRejected  = "rejected"   // the gateway refused it for good (4xx)
	ReasonShutdown  = "shutdown"   // still queued when the tracer stopped
)

// Metrics are the tracer's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	Attached       prometheus.Gauge
	Sensors        *prometheus.GaugeVec   // kind
	ChunksSent     *prometheus.CounterVec // kind
	BytesSent      *prometheus.CounterVec // kind
	ChunksDropped  *prometheus.CounterVec // reason
	BytesDropped   *prometheus.CounterVec // reason
	Retries        prometheus.Counter
	Restarts       *prometheus.CounterVec // kind
	Truncated      *prometheus.CounterVec // kind
	ChunkBytes     *prometheus.HistogramVec
	QueueBytes     prometheus.Gauge
	QueueChunks    prometheus.Gauge
	DiscoveryError prometheus.Counter
	// Lost counts events a sensor lost before they became chunk units (the
	// eBPF ring buffer or its per-container queue full): a blind spot of
	// that container, by kind and function.
	Lost *prometheus.CounterVec
	// Rescanned counts processes found in a container's cgroup that its
	// sensor did not follow (entered by kubectl exec, docker exec or
	// nsenter, not forked by a traced process), once each, by kind and
	// result: RescanAttached, RescanFailed (attach refused; not retried)
	// or RescanForeign (ptraced by someone else: a blind spot).
	Rescanned *prometheus.CounterVec
}

// Results of a rescan's attach (Rescanned).
const (
	RescanAttached = "attached"
	RescanFailed   = "failed"
	RescanForeign  = "foreign"
)

// New registers every collector on a fresh registry (plus the Go and process
// collectors, useful to watch the tracer's own footprint on the node).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Attached: prometheus.NewGauge(prometheus.GaugeOpts{Name: "faasmon_tracer_attached_processes",
			Help: "Function processes (containers) the tracer is attached to."}),
		Sensors: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "faasmon_tracer_sensors_running",
			Help: "Sensor processes (strace, tcpdump) running now."}, []string{"kind"}),
		ChunksSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_chunks_sent_total",
			Help: "Chunks accepted by the gateway."}, []string{"kind"}),
		BytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_bytes_sent_total",
			Help: "Chunk body bytes accepted by the gateway."}, []string{"kind"}),
		ChunksDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_chunks_dropped_total",
			Help: "Chunks never delivered, by reason."}, []string{"reason"}),
		BytesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_bytes_dropped_total",
			Help: "Chunk body bytes never delivered, by reason."}, []string{"reason"}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "faasmon_tracer_send_retries_total",
			Help: "Failed POSTs to the gateway that were retried."}),
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_sensor_restarts_total",
			Help: "Sensor processes restarted after they died while their target lived."}, []string{"kind"}),
		Truncated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_units_truncated_total",
			Help: "strace lines or pcap records shortened to fit in one chunk."}, []string{"kind"}),
		ChunkBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "faasmon_tracer_chunk_bytes",
			Help:    "Size of chunk bodies produced.",
			Buckets: []float64{1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10, 192 << 10, chunk.MaxBytes}}, []string{"kind"}),
		QueueBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "faasmon_tracer_queue_bytes",
			Help: "Bytes held in the send queue."}),
		QueueChunks: prometheus.NewGauge(prometheus.GaugeOpts{Name: "faasmon_tracer_queue_chunks",
			Help: "Chunks held in the send queue."}),
		Lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_events_lost_total",
			Help: "Events a sensor lost before chunking (eBPF ring buffer or queue full): a blind spot, by function."}, []string{"kind", "function"}),
		Rescanned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faasmon_tracer_rescan_processes_total",
			Help: "Processes that entered a container outside its traced process tree (kubectl exec), by result: attached, failed, foreign (traced by another tracer: a blind spot)."}, []string{"kind", "result"}),
		DiscoveryError: prometheus.NewCounter(prometheus.CounterOpts{Name: "faasmon_tracer_discovery_errors_total",
			Help: "Failed discovery rounds (API or provider unreachable, /proc unreadable)."}),
	}
	r.MustRegister(m.Attached, m.Sensors, m.ChunksSent, m.BytesSent, m.ChunksDropped, m.BytesDropped,
		m.Retries, m.Restarts, m.Truncated, m.ChunkBytes, m.QueueBytes, m.QueueChunks, m.DiscoveryError, m.Lost, m.Rescanned,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{ReasonQueueFull, ReasonRejected, ReasonShutdown} {
		m.ChunksDropped.WithLabelValues(r)
		m.BytesDropped.WithLabelValues(r)
	}
	return m
}

// Kinds pre-creates the label values of the sensors that will run, so
// that a zero is scraped before the first event.
func (m *Metrics) Kinds(ks ...chunk.Kind) {
	for _, k := range ks {
		m.Sensors.WithLabelValues(string(k))
		m.ChunksSent.WithLabelValues(string(k))
		m.BytesSent.WithLabelValues(string(k))
		m.Restarts.WithLabelValues(string(k))
		m.Truncated.WithLabelValues(string(k))
	}
}

// Value reads a single counter or gauge (tests, logs); NaN if c is not one.
func Value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	go func() { c.Collect(ch); close(ch) }()
	v := math.NaN()
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			continue
		}
		switch {
		case d.Counter != nil:
			v = d.Counter.GetValue()
		case d.Gauge != nil:
			v = d.Gauge.GetValue()
		}
	}
	return v
}
