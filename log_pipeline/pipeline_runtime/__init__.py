"""What the log shipper and the log archiver share: systemd notifications, JSON log lines,
embedded-metric-format counters, jittered backoff and environment parsing. No CDK imports."""
