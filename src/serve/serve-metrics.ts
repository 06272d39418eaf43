import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The HTTP server's metrics, registered on the registry passed in (the process's `FleetMetrics`
 * registry, so `/metrics` shows them beside the engine's batch metrics). `route` is the route pattern
 * (`/v1/runs/:id`), or `unmatched`, so label values stay a small fixed set.
 */
export class ServeMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly inFlight: Gauge;
  readonly detectInFlight: Gauge;
  readonly detectQueued: Gauge;
  readonly detectRejected: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'facefleet_http_requests_total', help: 'HTTP requests answered, by route and status.', labelNames: ['method', 'route', 'status'], registers });
    this.duration = new Histogram({
      name: 'facefleet_http_request_duration_seconds',
      help: 'Time from request to the last byte of the answer.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inFlight = new Gauge({ name: 'facefleet_http_requests_in_flight', help: 'HTTP requests being handled.', registers });
    this.detectInFlight = new Gauge({ name: 'facefleet_serve_detect_in_flight', help: 'Detection requests holding an admission slot.', registers });
    this.detectQueued = new Gauge({ name: 'facefleet_serve_detect_queued', help: 'Detection requests waiting for an admission slot.', registers });
    this.detectRejected = new Counter({ name: 'facefleet_serve_detect_rejected_total', help: 'Detection requests refused by admission control.', labelNames: ['reason'], registers });
    for (const reason of ['queue_full', 'timeout', 'closed']) this.detectRejected.labels(reason).inc(0);
  }
}
