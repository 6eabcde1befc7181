"""The write-buffer worker: SQS orders queue -> PostgreSQL, batched, idempotent, drain-safe.

Runs on each EC2 instance of the write-buffer stack as `python -m write_buffer_worker` under
systemd. It imports nothing of the CDK; everything it needs comes from the environment.
"""
