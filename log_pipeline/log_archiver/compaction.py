"""Step Functions waiting on a queue: the hourly compaction task, done by the archiver fleet.

Every hour a state machine sends `{"taskToken": ..., "input": {...}}` to the jobs queue with
`sqs:sendMessage.waitForTaskToken` and waits. An archiver receives it and

  checks    - the token is alive (a heartbeat): a task that already timed out is not redone;
  works     - merges the hour's raw objects into one `hourly/dt=.../hour=HH/logs.jsonl.gz`,
              dropping the lines of messages delivered twice (same `(shipper, seq)` in two
              objects), while a heartbeat thread tells Step Functions it is alive
              (SendTaskHeartbeat) and keeps the job message hidden (ChangeMessageVisibility);
  answers   - SendTaskSuccess with what it did (parts, lines, duplicates, key), or
              SendTaskFailure with an error name the state machine's Retry and Catch act on:
              `Compaction.BadRequest` (no retry) or `Compaction.Failed` (retried);
  deletes   - the job message, once the task has its answer (or its token is dead).

A worker that dies stops heartbeating: the task times out after HeartbeatSeconds and the state
machine retries with a new message. One stopped by SIGTERM releases the job at once for another
archiver (the token stays valid). Compaction is idempotent: the same raw objects give the same
hourly object, so a job done twice does no harm.
"""

from __future__ import annotations

import gzip
import json
import logging
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pipeline_runtime.runtime import run_steps

log = logging.getLogger(__name__)

DEAD_TOKEN = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class BadRequest(ValueError):
    """The job's input cannot be done, now or later."""


class MalformedJob(ValueError):
    """A jobs-queue body that is not `{"taskToken": "...", "input": ...}`: nothing to answer."""


def parse_job(body: str) -> tuple[str, object]:
    """`(task token, task input)` from a job message's body, or MalformedJob, whatever it holds."""
    try:
        job = json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, int digit limit, nesting
        raise MalformedJob(f"not JSON: {type(error).__name__}") from None
    if not isinstance(job, dict):
        raise MalformedJob("not a JSON object")
    token = job.get("taskToken")
    if not isinstance(token, str) or not token:
        raise MalformedJob("taskToken must be a non-empty string")
    return token, job.get("input") or {}


class Cancelled(RuntimeError):
    """The worker is stopping; the job goes back to the queue for another worker."""


def hour_of(request: dict) -> datetime:
    """The hour to compact: `hour` ("2025-01-31T09"), or the hour before `requestedAt` (the
    schedule's event time), so the run at 10:10 compacts 09:00-09:59."""
    if not isinstance(request, dict):
        raise BadRequest(f"the task input must be a JSON object, not {type(request).__name__}")
    try:
        if request.get("hour"):
            return datetime.strptime(request["hour"], "%Y-%m-%dT%H").replace(tzinfo=UTC)
        at = datetime.fromisoformat(str(request["requestedAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError, TypeError) as error:
        raise BadRequest(f"needs hour (YYYY-MM-DDTHH) or requestedAt (ISO 8601): {error}") from None
    return (at.astimezone(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def compact_hour(
    s3, bucket: str, raw_prefix: str, hourly_prefix: str, hour: datetime, cancelled: threading.Event
) -> dict:
    """Merge the hour's raw objects into one, without duplicate messages; return the summary."""
    partition = f"dt={hour:%Y-%m-%d}/hour={hour:%H}/"
    keys = sorted(
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=raw_prefix + partition
        )
        for item in page.get("Contents", [])
    )
    summary = {
        "hour": f"{hour:%Y-%m-%dT%H}",
        "parts": len(keys),
        "lines": 0,
        "duplicates": 0,
        "key": None,
        "bytes": 0,
    }
    if not keys:
        return summary
    first_seen: dict[tuple[str, int], int] = {}
    with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as spool:
        with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as merged:
            for index, key in enumerate(keys):
                if cancelled.is_set():
                    raise Cancelled(key)
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                with gzip.GzipFile(fileobj=body) as part:
                    for raw in part:
                        record = json.loads(raw)
                        name = (record["shipper"], record["seq"])
                        if first_seen.setdefault(name, index) != index:
                            summary["duplicates"] += 1
                            continue
                        merged.write(raw)
                        summary["lines"] += 1
        summary["bytes"] = spool.tell()
        spool.seek(0)
        summary["key"] = f"{hourly_prefix}{partition}logs.jsonl.gz"
        s3.upload_fileobj(
            spool, bucket, summary["key"], ExtraArgs={"ContentType": "application/gzip"}
        )
    return summary


class CompactionWorker:
    """One loop over the jobs queue: receive a task, do it with a heartbeat, answer, delete."""

    def __init__(self, config, sqs, s3, sfn, metrics):
        self.config = config
        self._sqs, self._s3, self._sfn = sqs, s3, sfn
        self._metrics = metrics
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_progress = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=run_steps,
            args=("jobs", self._receive_and_handle, self._stopping, self._beat),
            name="jobs",
            daemon=True,
        )
        self._thread.start()

    def stop(self, grace: float) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(grace)

    def healthy(self) -> bool:
        alive = self._thread is None or self._thread.is_alive()
        return (
            alive
            and time.monotonic() - self.last_progress
            < self.config.receive_wait_seconds + 60 + self.config.task_heartbeat_seconds
        )

    def failed(self) -> bool:
        """The jobs thread died: a bug (no job message and no AWS error can do it)."""
        return (
            self._thread is not None and not self._thread.is_alive() and not self._stopping.is_set()
        )

    def _beat(self) -> None:
        self.last_progress = time.monotonic()

    def _receive_and_handle(self) -> None:
        try:
            messages = self._sqs.receive_message(
                QueueUrl=self.config.jobs_queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=self.config.receive_wait_seconds,
                VisibilityTimeout=self.config.jobs_visibility_timeout_seconds,
            ).get("Messages", [])
        except (BotoCoreError, ClientError) as error:
            log.warning("jobs receive failed", extra={"fields": {"error": str(error)[:200]}})
            self._stopping.wait(1.0)
            return
        for message in messages:
            try:
                self.handle(message)
            except Exception:
                log.exception(
                    "unexpected error handling a job; released for the redrive policy",
                    extra={"fields": {"message_id": message.get("MessageId")}},
                )
                self._visibility(message, 0)

    def handle(self, message: dict) -> str:
        """Do one job message; return what happened (for logs and tests)."""
        try:
            token, request = parse_job(message["Body"])
        except MalformedJob as reason:
            log.error(
                "job message without a task token; released for the redrive policy",
                extra={"fields": {"message_id": message["MessageId"], "reason": str(reason)}},
            )
            self._visibility(message, 0)
            return "malformed"
        if not self._alive(token):
            self._delete(message)
            return "token dead"
        cancelled = threading.Event()
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(token, message, cancelled, beating), daemon=True
        )
        heart.start()
        outcome = "failed"
        try:
            summary = compact_hour(
                self._s3,
                self.config.bucket,
                self.config.raw_prefix,
                self.config.hourly_prefix,
                hour_of(request),
                cancelled,
            )
            outcome = self._answer("send_task_success", taskToken=token, output=json.dumps(summary))
            self._metrics.add("Jobs")
            log.info("compaction done", extra={"fields": summary})
        except BadRequest as error:
            outcome = self._answer(
                "send_task_failure",
                taskToken=token,
                error="Compaction.BadRequest",
                cause=str(error)[:256],
            )
            self._metrics.add("JobFailures")
        except Cancelled:
            if self._stopping.is_set():
                self._visibility(
                    message, 0
                )  # another archiver takes it now; the token is still good
                return "released"
            self._delete(message)  # the token died while working (timed out): nothing to answer
            return "token dead"
        except (BotoCoreError, ClientError, OSError, ValueError, KeyError, TypeError) as error:
            outcome = self._answer(
                "send_task_failure",
                taskToken=token,
                error="Compaction.Failed",
                cause=str(error)[:256],
            )
            self._metrics.add("JobFailures")
            log.warning(
                "compaction failed; the state machine retries",
                extra={"fields": {"error": str(error)[:200]}},
            )
        finally:
            beating.set()
            heart.join()
        if outcome != "unanswered":
            self._delete(message)
        return outcome

    def _heartbeat(
        self, token: str, message: dict, cancelled: threading.Event, done: threading.Event
    ) -> None:
        """Every third of the heartbeat: tell Step Functions, keep the message hidden, watch for a stop."""
        every = max(1.0, self.config.task_heartbeat_seconds / 3)
        next_beat = time.monotonic() + every
        while not done.wait(0.2):
            if self._stopping.is_set():
                cancelled.set()
            if time.monotonic() < next_beat:
                continue
            next_beat = time.monotonic() + every
            if not self._alive(token):
                cancelled.set()
                return
            self._visibility(message, self.config.jobs_visibility_timeout_seconds)

    def _alive(self, token: str) -> bool:
        try:
            self._sfn.send_task_heartbeat(taskToken=token)
            return True
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in DEAD_TOKEN:
                log.warning(
                    "task token no longer valid; the job is dropped",
                    extra={"fields": {"code": code}},
                )
                return False
            log.warning("heartbeat failed", extra={"fields": {"error": str(error)[:200]}})
            return True
        except BotoCoreError as error:
            log.warning("heartbeat failed", extra={"fields": {"error": str(error)[:200]}})
            return True

    def _answer(self, call: str, **kwargs) -> str:
        try:
            getattr(self._sfn, call)(**kwargs)
            return "succeeded" if call == "send_task_success" else "failed"
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in DEAD_TOKEN:
                log.warning("task already ended; answer dropped", extra={"fields": {"code": code}})
                return "token dead"
            log.warning(
                "answer not delivered; the job comes back",
                extra={"fields": {"error": str(error)[:200]}},
            )
            return "unanswered"
        except BotoCoreError as error:
            log.warning(
                "answer not delivered; the job comes back",
                extra={"fields": {"error": str(error)[:200]}},
            )
            return "unanswered"

    def _visibility(self, message: dict, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self.config.jobs_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=seconds,
            )
        except (BotoCoreError, ClientError) as error:
            log.warning(
                "job visibility change failed", extra={"fields": {"error": str(error)[:200]}}
            )

    def _delete(self, message: dict) -> None:
        try:
            self._sqs.delete_message(
                QueueUrl=self.config.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        except (BotoCoreError, ClientError) as error:
            log.warning(
                "job delete failed; it comes back and is answered again",
                extra={"fields": {"error": str(error)[:200]}},
            )
