"""Operating Steward itself: health and readiness probes, Prometheus metrics, logs."""
