"""What a running service tells its operator: Prometheus metrics, logs, traces."""
