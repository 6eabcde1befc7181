"""The log archiver: drains the log queue into compressed, hour-partitioned S3 objects, and
answers Step Functions' compaction tasks."""
