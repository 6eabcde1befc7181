"""Every lab in `./run lab`: one entry each, with its questions and exam points.

Adding a lab is one `Lab(...)` entry here. Facts in exam points link to the AWS page they come
from; figures that change over time carry the date they were checked.
"""

from __future__ import annotations

from labs.teaching import ExamPoint, Lab, Question

CHECKED = "2026-12-02"  # when the AWS pages behind the dated figures were last read

SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide"
SQS_API = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference"
SNS = "https://docs.aws.amazon.com/sns/latest/dg"
LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg"

VISIBILITY = Lab(
    name="visibility",
    title="processing longer than the visibility timeout, and the heartbeat",
    sets_up=(
        "Two standard queues on moto with the same visibility timeout and messages, and more "
        "consumers than messages. One group of consumers works plainly; the other extends each "
        "message's visibility (ChangeMessageVisibility) while it works: a heartbeat."
    ),
    change="--visibility (seconds) and --processing (seconds): make processing shorter than "
    "the timeout and the duplicates go away without a heartbeat too.",
    notice=(
        "A receive hides a message for the visibility timeout; it is not a lock. When the "
        "timeout runs out before the delete, the message is visible again and another consumer "
        "receives it (ApproximateReceiveCount 2).",
        "The heartbeat costs one request per third of the timeout per message in progress, and "
        "lets the timeout stay short, so a crashed consumer's messages come back quickly.",
        "Duplicates are normal for SQS (at-least-once): the consumers here must be idempotent "
        "anyway; the heartbeat only removes the duplicates this setting causes.",
    ),
    exam_points=(
        ExamPoint(
            "The default visibility timeout is 30 seconds, the minimum 0, the maximum 12 hours.",
            f"{SQS}/quotas-messages.html",
        ),
        ExamPoint(
            "ChangeMessageVisibility extends (or ends) the timeout of a message in flight; the "
            "receipt handle of the latest receive is the one to use.",
            f"{SQS_API}/API_ChangeMessageVisibility.html",
        ),
        ExamPoint(
            "A DeleteMessage with an older receipt handle succeeds but might not delete the "
            "message: delete with the handle of the receive you processed, within its timeout.",
            f"{SQS_API}/API_DeleteMessage.html",
        ),
        ExamPoint(
            "For a Lambda consumer AWS recommends a queue visibility timeout of at least six "
            "times the function timeout.",
            f"{LAMBDA}/services-sqs-configure.html",
        ),
    ),
    exams=("DVA", "SAA", "SOA"),
    seeds="001 exam pointers (visibility timeout > processing time)",
    questions=(
        Question(
            "Visibility timeout 2 s, processing 3 s, idle consumers waiting. What happens?",
            (
                "SQS rejects the delete after 2 s",
                "another consumer receives the message while the first still processes it",
                "the message is moved to the dead-letter queue at once",
                "nothing: a received message is locked until it is deleted",
            ),
            1,
            "The timeout hides the message; it does not lock it. Run it: every message was "
            "delivered twice without the heartbeat.",
        ),
        Question(
            "Which call lets a slow consumer keep a message hidden without raising the queue's "
            "timeout for everyone?",
            ("ChangeMessageVisibility", "PurgeQueue", "SetQueueAttributes", "ReceiveMessage"),
            0,
            "A heartbeat of ChangeMessageVisibility calls extends only the messages in progress.",
        ),
        Question(
            "Why not just set the visibility timeout to 12 hours?",
            (
                "it costs more per message",
                "SQS rejects values above 15 minutes",
                "a message whose consumer crashed stays invisible for 12 hours before a retry",
                "it turns off the dead-letter queue",
            ),
            2,
            "The timeout is also how long a lost message waits to be retried: keep it short and "
            "extend while working.",
        ),
    ),
    module="labs.visibility_lab",
)

DEAD_LETTER = Lab(
    name="dead-letter",
    title="a poison message, maxReceiveCount, the DLQ, its retention trap, and redrive",
    sets_up=(
        "A standard queue on moto with a dead-letter queue (redrive policy), good orders, one "
        "flaky order that fails once, and one poison order that fails every time. Then the dead "
        "letter is read like an operator would, the consumer is fixed, and tools/redrive.py "
        "moves it back."
    ),
    change="--max-receives (1 dead-letters the flaky order too) and --dlq-retention-days "
    "(4 or less, against the source's 4, shows the trap). --stack-outputs runs it on a "
    "deployed WriteBuffer stack.",
    notice=(
        "The poison did not block anything: the good orders flowed past it, and it left the "
        "queue after maxReceiveCount receives instead of failing forever.",
        "maxReceiveCount is a trade: too low dead-letters transient failures, too high keeps a "
        "poison message cycling (and costing receives) for longer.",
        "A DLQ is a parking lot: alarm on its first message, read it, fix the cause, redrive.",
    ),
    exam_points=(
        ExamPoint(
            "SQS moves a message to the DLQ when its receive count exceeds the source queue's "
            "maxReceiveCount; the DLQ must be of the same type (FIFO for a FIFO queue).",
            f"{SQS}/sqs-configure-dead-letter-queue.html",
        ),
        ExamPoint(
            "Standard queues keep the original enqueue timestamp when a message is "
            "dead-lettered, FIFO queues reset it: set the DLQ's retention longer than the "
            "source's.",
            f"{SQS}/setting-up-dead-letter-queue-retention.html",
        ),
        ExamPoint(
            "Retention: 4 days by default, 60 seconds to 14 days.",
            f"{SQS}/quotas-messages.html",
        ),
        ExamPoint(
            "Dead-letter queue redrive (StartMessageMoveTask) moves messages back to their "
            "source, or to another queue, server-side.",
            f"{SQS_API}/API_StartMessageMoveTask.html",
        ),
    ),
    exams=("DVA", "SAA", "SOA"),
    seeds="001 §6, 003 (queues hide failures)",
    questions=(
        Question(
            "maxReceiveCount is 3 and a message fails every time. When does it reach the DLQ?",
            (
                "after its first failure",
                "when its receive count would exceed 3",
                "when its retention period ends",
                "never: a consumer must send it there",
            ),
            1,
            "The lab's poison was received exactly maxReceiveCount times, then SQS moved it.",
        ),
        Question(
            "Source queue retention 4 days, DLQ retention 4 days, standard queues. A message "
            "waits 3 days in the source, then is dead-lettered. How long does it stay in the DLQ?",
            ("4 days", "7 days", "about 1 day", "until it is redriven"),
            2,
            "A standard queue keeps the enqueue time, so the DLQ expires it 4 days after it was "
            "first sent: 1 day later. Give the DLQ a longer retention (this project uses 14 days).",
        ),
        Question(
            "The bug is fixed. What do you do with the messages in the DLQ?",
            (
                "purge the DLQ: they failed",
                "redrive them to the source queue so the fixed consumer processes them",
                "raise maxReceiveCount; SQS moves them back by itself",
                "delete and re-create the source queue",
            ),
            1,
            "Redrive (StartMessageMoveTask, or tools/redrive.py) sends them back through the "
            "normal path; the lab's poison order was then processed once.",
        ),
    ),
    module="labs.dead_letter_lab",
    stack="WriteBuffer",
)

POLLING = Lab(
    name="polling",
    title="short vs long polling: empty receives, requests and their price",
    sets_up=(
        "Four queues on moto and four pollers running for the same time: short and long "
        "polling on an idle queue, short and long polling on a queue a producer keeps busy. "
        "Every ReceiveMessage is counted, empty or not, then a month of each is priced."
    ),
    change="--wait (WaitTimeSeconds; 0 makes the long poller a short poller too), "
    "--seconds and --rate.",
    notice=(
        "An idle queue polled in a loop costs requests for nothing: every short poll is billed "
        "and empty. A long poll holds the request open and returns when a message arrives.",
        "On a busy queue both find messages; long polling still saves the empty (and, on AWS, "
        "the false-empty) receives between messages.",
        "Long polling is a queue attribute (ReceiveMessageWaitTimeSeconds) or a per-request "
        "parameter (WaitTimeSeconds); this project's queues default to 20 s.",
    ),
    exam_points=(
        ExamPoint(
            "Long polling (wait time > 0, at most 20 s) reduces empty responses and removes "
            "false empty responses; short polling returns at once, even from an empty queue.",
            f"{SQS}/best-practices-setting-up-long-polling.html",
        ),
        ExamPoint(
            "Short polling queries a subset of SQS's servers (weighted random), so it can miss "
            "messages that exist; long polling queries all of them.",
            f"{SQS}/sqs-short-and-long-polling.html",
        ),
        ExamPoint(
            "Short polling is billed the same as long polling: per request.",
            f"{SQS}/best-practices-using-appropriate-polling-mode.html",
        ),
        ExamPoint(
            f"As of {CHECKED} (us-east-1): $0.40 per million requests for standard queues, "
            "$0.50 for FIFO, the first million requests a month free; each 64 KB chunk of a "
            "payload is billed as one request.",
            "https://aws.amazon.com/sqs/pricing/",
        ),
    ),
    exams=("DVA", "SAA", "SOA"),
    seeds="001 exam pointers (long polling reduces API cost)",
    questions=(
        Question(
            "A consumer polls an empty queue in a loop with WaitTimeSeconds 0. What do you pay?",
            (
                "nothing: empty receives are free",
                "every ReceiveMessage request, including the empty ones",
                "only the requests that return messages",
                "a fixed monthly fee per queue",
            ),
            1,
            "Every request is billed; the idle short poller made thousands of empty receives.",
        ),
        Question(
            "What is the longest a single ReceiveMessage can long-poll?",
            ("5 seconds", "20 seconds", "60 seconds", "the visibility timeout"),
            1,
            "WaitTimeSeconds (or ReceiveMessageWaitTimeSeconds) goes up to 20 seconds.",
        ),
        Question(
            "A queue has messages, yet a short poll returns none. Why can that happen on AWS?",
            (
                "the messages are in flight with another consumer, and only that",
                "short polling samples a subset of servers; long polling would query them all",
                "the queue's retention period has ended",
                "short polling only returns messages older than 20 seconds",
            ),
            1,
            "A false empty receive: short polling asks a weighted random subset of servers. "
            "(moto keeps one copy of the queue, so the lab cannot show it; the docs do.)",
        ),
    ),
    module="labs.polling_lab",
)

FIFO = Lab(
    name="fifo",
    title="ordering per message group, interleaving, deduplication, the FIFO DLQ",
    sets_up=(
        "A FIFO queue on moto with a FIFO DLQ. Orders from several customers (one message group "
        "each) are sent interleaved and worked by several consumers at once; one order is "
        "poison. Then two more FIFO queues take the same message twice: once with an explicit "
        "deduplication id, once with content-based deduplication."
    ),
    change="--groups (1 makes the queue a single lane), --consumers, --orders-per-group, "
    "--processing.",
    notice=(
        "Order is per message group, not per queue: choose the group id as the thing whose "
        "order matters (an order, an account), and you get parallelism across groups.",
        "While a consumer holds a group's messages in flight, SQS gives nobody else that group: "
        "the lab counted zero overlaps.",
        "A FIFO DLQ unblocks the group by taking the poison out of it, which breaks that group's "
        "order: decide whether that is acceptable for your data.",
    ),
    exam_points=(
        ExamPoint(
            "Messages of one message group are processed one at a time, in strict order; a "
            "deduplication id is remembered for the 5-minute interval, even after the message "
            "was received and deleted.",
            f"{SQS}/FIFO-key-terms.html",
        ),
        ExamPoint(
            "Content-based deduplication uses a SHA-256 hash of the body (not the attributes); "
            "an explicit MessageDeduplicationId overrides it.",
            f"{SQS_API}/API_SendMessage.html",
        ),
        ExamPoint(
            f"FIFO queues support 120,000 messages in flight (as of {CHECKED}); older study "
            "guides say 20,000.",
            f"{SQS}/quotas-fifo.html",
        ),
        ExamPoint(
            "Without batching a FIFO queue supports 300 transactions per second per API action, "
            "3,000 messages per second with batches of 10; high throughput mode raises this "
            f"(figures as of {CHECKED}).",
            f"{SQS}/quotas-messages.html",
        ),
        ExamPoint(
            "Don't use a DLQ with a FIFO queue if the exact order of messages must never break.",
            f"{SQS}/sqs-dead-letter-queues.html",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="002 (message ordering), 001 (FIFO use cases)",
    questions=(
        Question(
            "Orders for 3 customers share one FIFO queue, one message group per customer, with 3 "
            "consumers. Which is true?",
            (
                "all orders are processed strictly one after another, queue-wide",
                "each customer's orders stay in order; different customers are processed in "
                "parallel",
                "order is best effort, as in a standard queue",
                "each consumer must be assigned a message group",
            ),
            1,
            "The lab's per-group sequences were all in order while the overall order interleaved.",
        ),
        Question(
            "A producer times out and re-sends a message with the same MessageDeduplicationId 30 "
            "seconds later. What happens?",
            (
                "SendMessage fails with a duplicate error",
                "both copies are delivered",
                "the send succeeds but only one copy is delivered",
                "the first copy is replaced by the second",
            ),
            2,
            "Within the 5-minute interval the duplicate is accepted and not delivered: 1 of 2.",
        ),
        Question(
            "A message in group B fails every time. What happens to group B's later messages?",
            (
                "they are delivered around it, out of order",
                "they wait until the failing message is deleted or moved to the DLQ",
                "they are moved to the DLQ with it",
                "they are deleted",
            ),
            1,
            "Group B waited for the poison to reach the FIFO DLQ, then continued without it.",
        ),
    ),
    module="labs.fifo_lab",
)

DELAY = Lab(
    name="delay",
    title="delay queues vs per-message timers, and what a consumer sees",
    sets_up=(
        "A standard queue on moto with a queue-level delay, three messages (no timer, a timer "
        "of 0, a timer of a few seconds), a change of the queue's delay with one more message "
        "after it, and a consumer noting when each first appears. Then a FIFO queue is asked "
        "for a per-message timer."
    ),
    change="--queue-delay and --timer (0-900 s each).",
    notice=(
        "A message timer overrides the queue's delay in both directions; without one, the "
        "queue's delay applies.",
        "Changing a standard queue's delay leaves the messages already in it alone.",
        "Delay hides a message before its first receive; the visibility timeout after each "
        "receive. Neither is a scheduler: beyond 15 minutes, use EventBridge Scheduler.",
    ),
    exam_points=(
        ExamPoint(
            "A delay queue postpones delivery of new messages by 0 seconds (default) to 15 "
            "minutes; for standard queues a change is not retroactive, for FIFO queues it is.",
            f"{SQS}/sqs-delay-queues.html",
        ),
        ExamPoint(
            "Message timers set the delay of one message (0 to 15 minutes) and override the "
            "queue's DelaySeconds; FIFO queues don't support timers on individual messages.",
            f"{SQS}/sqs-message-timers.html",
        ),
        ExamPoint(
            "Delays longer than 15 minutes, or recurring ones: EventBridge Scheduler.",
            "https://docs.aws.amazon.com/scheduler/latest/UserGuide/what-is-scheduler.html",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="001 §3 (async offload; work that should wait)",
    questions=(
        Question(
            "A queue's DelaySeconds is 5. A message is sent with DelaySeconds 0. When can a "
            "consumer receive it?",
            ("after 5 s", "at once", "after 5 s plus the visibility timeout", "never"),
            1,
            "A message timer overrides the queue's delay: the lab saw it at once.",
        ),
        Question(
            "You must delay one order on a FIFO queue by 2 minutes. What works?",
            (
                "send it with DelaySeconds 120",
                "set the FIFO queue's DelaySeconds (every message is delayed) or schedule the "
                "send elsewhere",
                "raise its visibility timeout before sending",
                "use a different message group",
            ),
            1,
            "FIFO queues refuse per-message timers (the lab's send was refused); only the "
            "queue-level delay exists.",
        ),
        Question(
            "What is the difference between a delay and the visibility timeout?",
            (
                "none; they are two names for one setting",
                "delay hides a message before its first receive; visibility hides it after a "
                "receive",
                "delay only applies to FIFO queues",
                "visibility only applies to delayed messages",
            ),
            1,
            "Delay counts from the send; the visibility timeout from each receive.",
        ),
    ),
    module="labs.delay_lab",
)

LARGE_PAYLOAD = Lab(
    name="large-payload",
    title="the claim-check pattern for payloads over the SQS message size limit",
    sets_up=(
        "A queue and an S3 bucket (with a lifecycle rule) on moto. A report larger than the "
        "SQS message size limit is sent as a body (refused), then as a claim check: the body "
        "in S3, a pointer with its size and SHA-256 in the message; the consumer resolves it."
    ),
    change="--size-kib (under 1024 it fits as it is) and --threshold-kib (claim-check "
    "everything above this size, e.g. 64 to save billed requests).",
    notice=(
        "The message stays small and cheap: each 64 KB chunk of a payload is billed as one "
        "request, so a 1 MiB body costs 16 requests to send and 16 to receive.",
        "Delete the message before the object: a crash in between leaves an orphan object for "
        "the lifecycle rule, never a message whose payload is gone.",
        "The limit moved: it was 256 KiB for years, and many study guides still say so.",
    ),
    exam_points=(
        ExamPoint(
            f"The maximum SQS message size is 1 MiB (1,048,576 bytes) as of {CHECKED}, raised "
            "from 256 KiB (AWS Compute Blog, 2026-01-29). Older copies of the quotas page, and "
            "many study guides, still say 256 KB; the SendMessage reference says 1 MiB.",
            f"{SQS}/quotas-messages.html, {SQS_API}/API_SendMessage.html, https://aws.amazon."
            "com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up"
            "-to-1-mb",
        ),
        ExamPoint(
            "For larger payloads (up to 2 GB) the Amazon SQS Extended Client Library (Java, "
            "Python) stores the body in S3 and sends a reference: the claim check.",
            f"{SQS}/sqs-managing-large-messages.html",
        ),
        ExamPoint(
            f"Each 64 KB chunk of a payload is billed as one request (as of {CHECKED}).",
            "https://aws.amazon.com/sqs/pricing/",
        ),
        ExamPoint(
            "S3 lifecycle rules expire objects by prefix and age: the safety net for orphaned "
            "payloads.",
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="001 §3 (upload → S3 → SQS → worker)",
    questions=(
        Question(
            "A producer must queue 5 MB documents. What fits SQS?",
            (
                "raise the queue's MaximumMessageSize to 5 MB",
                "gzip them, always",
                "store each in S3 and queue a pointer to it (claim check)",
                "split each into numbered messages on a standard queue",
            ),
            2,
            "The body limit is 1 MiB; the claim check (or the Extended Client Library) carries "
            "the rest through S3. Splitting on a standard queue loses order.",
        ),
        Question(
            "Why check the SHA-256 in the pointer when fetching the object?",
            (
                "S3 requires it for GetObject",
                "to be sure the object is the payload that was sent, not a later overwrite",
                "SQS rejects messages without it",
                "it makes the download faster",
            ),
            1,
            "The pointer and the object travel separately; the hash ties them together.",
        ),
        Question(
            "A 256 KB message is sent once and received once. How many requests are billed?",
            ("2", "4", "8", "1"),
            2,
            "4 chunks of 64 KB to send and 4 to receive: 8 (plus the delete).",
        ),
    ),
    module="labs.large_payload_lab",
)

FAN_OUT = Lab(
    name="fan-out",
    title="SNS filter policies, raw delivery vs envelope, a subscription DLQ, a new subscriber",
    sets_up=(
        "One SNS topic on moto and queues subscribed as the OrderFanOut stack does: a filter on "
        "a message attribute, a filter on the message body, no filter with the SNS envelope; "
        "each subscription with a dead-letter queue. Three orders are published, then a new "
        "queue subscribes and one more order is published by the same, unchanged publisher."
    ),
    change="--big-order-cents (the body filter), --payments-envelope (turn raw delivery off). "
    "--stack-outputs reads and exercises a deployed OrderFanOut stack.",
    notice=(
        "Filtering happens in SNS, per subscription: consumers never receive (or pay for) "
        "messages they would throw away.",
        "Filter on attributes when the publisher sets them; on the body when it cannot be "
        "changed to add attributes (the body must be JSON).",
        "Adding a consumer is a subscription, not a code change; it gets messages from then on.",
    ),
    exam_points=(
        ExamPoint(
            "A subscription's FilterPolicyScope is MessageAttributes (the default) or "
            "MessageBody; without a filter policy a subscriber receives every message.",
            f"{SNS}/sns-message-filtering-scope.html",
        ),
        ExamPoint(
            "Raw message delivery sends the message as it was published, without the JSON "
            "envelope of SNS metadata, to SQS and HTTP/S endpoints.",
            f"{SNS}/sns-large-payload-raw-message-delivery.html",
        ),
        ExamPoint(
            "A subscription's dead-letter queue (an SQS queue) receives messages SNS could not "
            "deliver, for client-side errors at once and for server-side errors after the "
            "delivery policy's retries.",
            f"{SNS}/sns-dead-letter-queues.html",
        ),
        ExamPoint(
            "For SQS and Lambda endpoints SNS retries a failed delivery 100,015 times over 23 "
            f"days (as of {CHECKED}); only HTTP/S delivery policies can be changed.",
            f"{SNS}/sns-message-delivery-retries.html",
        ),
        ExamPoint(
            "FIFO topics can archive messages (up to 365 days) and replay them to a subscriber; "
            "standard topics keep nothing.",
            f"{SNS}/fifo-message-archiving-replay.html",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="001 §5 (fan-out), 002 (publish/subscribe)",
    questions=(
        Question(
            "Payments must only get orders with amountCents > 0. Where does that rule belong?",
            (
                "in the payment consumer: receive everything, drop free orders",
                "in the payment subscription's filter policy",
                "in a second topic the publisher chooses per order",
                "in the queue's redrive policy",
            ),
            1,
            "The filter policy: the free order never reached the payments queue.",
        ),
        Question(
            "A subscriber needs SNS's MessageId and Timestamp for an audit trail. Which delivery?",
            ("raw delivery", "the SNS envelope (raw delivery off)", "either", "neither"),
            1,
            "Only the envelope carries them; the lab printed its keys.",
        ),
        Question(
            "A new analytics queue subscribes to a standard topic at noon. What does it receive?",
            (
                "every message published that day",
                "messages published after it subscribed",
                "the last 14 days of messages",
                "nothing until the publisher is redeployed",
            ),
            1,
            "A standard topic stores nothing: analytics got only the order published after it "
            "subscribed, and the publisher did not change.",
        ),
    ),
    module="labs.sns_fan_out_lab",
    stack="OrderFanOut",
)

LAMBDA_BATCH = Lab(
    name="lambda-batch",
    title="partial batch responses vs whole-batch retry, batch size and window, concurrency",
    sets_up=(
        "Two identical queues on moto fed the same paid orders, one poison, each drained by a "
        "model of the Lambda SQS event source mapping that invokes this project's real payment "
        "consumer (lambda/payment_consumer, on moto's DynamoDB). One mapping honours "
        "batchItemFailures; the other stands for a function without partial batch responses, "
        "which can only raise."
    ),
    change="--batch-size, --window (MaximumBatchingWindowInSeconds), --max-concurrency, "
    "--work (seconds per invocation), --orders.",
    notice=(
        "Without partial batch responses one bad record sends its whole batch back: good "
        "records are processed again, and if they keep sharing the poison's batch they reach "
        "the DLQ with it.",
        "Idempotent consumers make the re-processing harmless (no second charge); partial "
        "batch responses make it rare.",
        "A batching window trades latency for fewer, fuller invocations; maximum concurrency "
        "keeps the function (and what it calls) below a ceiling while messages wait in the queue.",
    ),
    exam_points=(
        ExamPoint(
            "By default a function error returns every message of the batch to the queue; with "
            "ReportBatchItemFailures in FunctionResponseTypes the function returns "
            "batchItemFailures and only those come back.",
            f"{LAMBDA}/services-sqs-errorhandling.html",
        ),
        ExamPoint(
            "BatchSize defaults to 10, at most 10,000 for standard queues and 10 for FIFO; "
            "MaximumBatchingWindowInSeconds defaults to 0 and is not supported for FIFO queues.",
            f"{LAMBDA}/services-sqs-parameters.html",
        ),
        ExamPoint(
            "ScalingConfig.MaximumConcurrency limits the concurrent invocations one SQS event "
            "source can start: 2 to 1,000.",
            f"{LAMBDA}/API_ScalingConfig.html",
        ),
        ExamPoint(
            "Powertools for AWS Lambda's batch utility builds the batchItemFailures response.",
            "https://docs.aws.amazon.com/powertools/python/latest/utilities/batch/",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="001 §3 and §7 (Lambda + SQS batch), 003 (idempotent consumers)",
    questions=(
        Question(
            "One record of a batch of 10 fails and the function raises. What happens without "
            "partial batch responses?",
            (
                "only the failed record is retried",
                "all 10 records become visible again and are retried",
                "the failed record goes to the DLQ at once",
                "the 9 good records are deleted, the failed one is lost",
            ),
            1,
            "The whole batch comes back; the lab counted the re-processed records.",
        ),
        Question(
            "What must you set, besides returning batchItemFailures, for partial batch "
            "responses to work?",
            (
                "ReportBatchItemFailures in the event source mapping's FunctionResponseTypes",
                "a FIFO queue",
                "a batching window",
                "maximum concurrency",
            ),
            0,
            "The mapping must be told to read the response: FunctionResponseTypes.",
        ),
        Question(
            "A downstream database takes at most 5 concurrent writers. Which setting protects "
            "it when a burst lands on the queue?",
            (
                "a larger batch size",
                "maximum concurrency on the event source mapping (or reserved concurrency)",
                "a shorter visibility timeout",
                "long polling",
            ),
            1,
            "Maximum concurrency capped the lab's invocations; the backlog waited in the queue.",
        ),
    ),
    module="labs.lambda_batch_lab",
)

WHY_QUEUE = Lab(
    name="why-queue",
    title="the same burst straight to PostgreSQL and through a queue; an outage past retention",
    sets_up=(
        "The embedded PostgreSQL with a connection limit for the application and one hot stock "
        "row (a flash sale), and moto's SQS. The same burst of orders goes straight to the "
        "database (a connection per request) and then through a queue drained by two workers. "
        "Last, a simulated clock runs a consumer outage longer than the queue's retention."
    ),
    change="--burst, --connection-limit, --work, --request-timeout, --consumers, "
    "--retention-days, --outage-days.",
    notice=(
        "Straight to the database, a burst fails in the two ways seed 000 names: refused "
        "connections and timeouts, and each failure is a lost order unless the client retries "
        "it.",
        "Through the queue every order is accepted at once and written at the database's pace: "
        "the queue absorbs the burst, the workers set the write rate.",
        "The queue only buys time up to its retention period: watch the age of the oldest "
        "message, not just the depth (seed 003).",
        "When the caller needs the result now (a synchronous request), a queue is the wrong "
        "tool: see docs/choosing.md.",
    ),
    exam_points=(
        ExamPoint(
            "SQS keeps a message 4 days by default, 60 seconds to 14 days at most; then it "
            "deletes it whether or not it was read.",
            f"{SQS}/quotas-messages.html",
        ),
        ExamPoint(
            "ApproximateAgeOfOldestMessage is the metric that shows a stalled consumer before "
            "retention deletes its backlog.",
            f"{SQS}/sqs-available-cloudwatch-metrics.html",
        ),
        ExamPoint(
            "RDS sets PostgreSQL's default max_connections from the instance's memory "
            "(LEAST({DBInstanceClassMemory/9531392}, 5000)): a small instance has few.",
            "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html",
        ),
        ExamPoint(
            "RDS Proxy pools and shares database connections for applications that open many "
            "(Lambda functions among them); a queue in front also smooths the write rate.",
            "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html",
        ),
    ),
    exams=("SAA", "DVA", "SOA"),
    seeds="000 (why queues), 003 (decoupling in time, throughput and failure)",
    questions=(
        Question(
            "A burst of 300 writes hits a database that allows the app 10 connections. Without a "
            "queue, what do clients see?",
            (
                "slower responses, but every write lands",
                "refused connections and timeouts: writes lost unless the client retries",
                "the database scales its connection limit up",
                "SQS buffers them automatically",
            ),
            1,
            "The lab counted refused connections, timeouts and lost orders.",
        ),
        Question(
            "With the queue in front, what decides how fast orders reach the database?",
            (
                "the burst's arrival rate",
                "the workers: how many, how many connections, how big their transactions",
                "the queue's visibility timeout",
                "the API Gateway throttle",
            ),
            1,
            "Two workers wrote the whole burst at a rate the database could take.",
        ),
        Question(
            "Consumers are down for 5 days; retention is 4 days. What happens to day 1's orders?",
            (
                "they wait until the consumers return",
                "they move to the dead-letter queue",
                "SQS deletes them, unread, when they are 4 days old",
                "SQS extends retention automatically",
            ),
            2,
            "Retention bounds decoupling in failure: the model's day-1 orders expired.",
        ),
    ),
    module="labs.why_queue_lab",
)

WRITE_BUFFER = Lab(
    name="write-buffer",
    title="the write-buffer pattern end to end: API schema, SQS, worker processes, PostgreSQL",
    sets_up=(
        "The burst lab (labs/burst_lab.py): a burst of orders checked against the API's request "
        "schema, queued on moto's SQS, drained by real worker processes (the EC2 worker) into "
        "the embedded PostgreSQL, with a poison message and a client retry."
    ),
    change="--orders, --workers, --receive-loops; --stack-outputs outputs.json sends the burst "
    "to a deployed WriteBuffer API and watches the real queue drain.",
    notice=(
        "Bad bodies never reach the queue: the API's JSON Schema model answers 400.",
        "The client retry and any redelivery write one row: the order id is the key.",
        "The poison message ends in the DLQ after maxReceiveCount receives; nothing is lost or "
        "written twice, and the lab exits non-zero if anything is.",
    ),
    exam_points=(
        ExamPoint(
            "API Gateway can validate a request body against a model (JSON Schema draft 4) "
            "before any integration runs.",
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
            "api-gateway-method-request-validation.html",
        ),
        ExamPoint(
            "Standard queues deliver at least once: design idempotent consumers.",
            f"{SQS}/standard-queues-at-least-once-delivery.html",
        ),
        ExamPoint(
            "Scale consumers on queue depth (ApproximateNumberOfMessagesVisible) or on backlog "
            "per instance.",
            "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html",
        ),
    ),
    exams=("SAA", "DVA", "SOA"),
    seeds="001 §1 and §4, 004",
    questions=(
        Question(
            "A client retries a POST whose first attempt did reach the queue. How many rows?",
            (
                "two",
                "one, because the worker inserts on the order id with ON CONFLICT DO NOTHING",
                "zero",
                "one, because SQS deduplicates standard queues",
            ),
            1,
            "Standard queues do not deduplicate; the idempotent insert does.",
        ),
        Question(
            "What bounds the database's write load however large the burst?",
            (
                "the queue's retention period",
                "workers x their write rate (MAX_WRITES_PER_SECOND x max_capacity)",
                "the API Gateway stage throttle alone",
                "the visibility timeout",
            ),
            1,
            "The queue holds the burst; the fleet's size and pace set the write rate.",
        ),
        Question(
            "Which metric scales the worker fleet out in this project's default?",
            (
                "CPUUtilization of the workers",
                "ApproximateNumberOfMessagesVisible",
                "NumberOfMessagesDeleted",
                "the database's connection count",
            ),
            1,
            "Step scaling on visible messages, from zero instances.",
        ),
    ),
    module="labs.burst_lab:main",
    passthrough=True,
    stack="WriteBuffer",
)

ORDER_FAN_OUT = Lab(
    name="order-fan-out",
    title="the OrderFanOut stack on moto: synthesized filters, real handlers, idempotency, DLQs",
    sets_up=(
        "The fan-out lab (labs/fan_out_lab.py): the app is synthesized, the subscriptions' "
        "filter policies and delivery modes are read from the OrderFanOut template and recreated "
        "on moto's SNS and SQS, and the four real Lambda handlers consume their queues into "
        "moto's DynamoDB."
    ),
    change="nothing to change: it plays the stack as synthesized (change the stack, run again).",
    notice=(
        "Each queue holds only what its filter admits: shipping never sees a download.",
        "Publishing the same order again changes nothing: the consumers are idempotent.",
        "A broken event fails in every consumer and lands in every DLQ.",
    ),
    exam_points=(
        ExamPoint(
            "SNS → SQS fan-out: each subscribed queue gets its own copy of a message.",
            f"{SNS}/sns-sqs-as-subscriber.html",
        ),
        ExamPoint(
            "Powertools idempotency records which events a function already processed (in "
            "DynamoDB) so a redelivery is a no-op.",
            "https://docs.aws.amazon.com/powertools/python/latest/utilities/idempotency/",
        ),
    ),
    exams=("DVA", "SAA"),
    seeds="001 §5, 002",
    questions=(
        Question(
            "Why does each consumer have its own queue rather than its own subscription to a "
            "Lambda function directly?",
            (
                "Lambda cannot subscribe to SNS",
                "the queue buffers, retries and dead-letters per consumer, independently",
                "SNS requires SQS for filter policies",
                "it is cheaper to have no queue",
            ),
            1,
            "A slow or failing consumer fills its own queue and DLQ without touching the others.",
        ),
        Question(
            "The same order event is published twice. What keeps stock from being reserved twice?",
            (
                "SNS deduplication on standard topics",
                "the consumer's idempotency on (orderId, eventType)",
                "the filter policy",
                "the visibility timeout",
            ),
            1,
            "Standard topics and queues can deliver twice; the consumer makes it harmless.",
        ),
        Question(
            "Which queue receives a free download's OrderPlaced event?",
            ("payment", "shipping", "inventory and audit", "none"),
            2,
            "Payment filters on amountCents > 0, shipping on shippable = true.",
        ),
    ),
    module="labs.fan_out_lab:main",
    passthrough=True,
)

SCALING = Lab(
    name="scaling",
    title="scaling consumers on queue depth: step scaling vs backlog per instance",
    sets_up=(
        "The scaling simulator (tools/scaling_sim.py): a queue's backlog over time and the "
        "Auto Scaling group's response under this project's two scaling policies."
    ),
    change="the simulator's options (`python -m tools.scaling_sim --help`).",
    notice=(
        "Step scaling on visible messages starts from zero instances; backlog per instance "
        "sizes the fleet from the time one message takes.",
        "Instance warm-up delays the response: the backlog keeps growing meanwhile.",
    ),
    exam_points=(
        ExamPoint(
            "Scaling an Auto Scaling group on SQS: the backlog per instance metric and its target.",
            "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html",
        ),
        ExamPoint(
            "Step scaling policies scale by steps of an alarm's breach size.",
            "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html",
        ),
    ),
    exams=("SAA", "SOA"),
    seeds="001 §4, 004",
    questions=(
        Question(
            "Why can't target tracking on backlog per instance scale a group from zero?",
            (
                "the metric divides by the number of instances in service",
                "SQS does not publish metrics for empty queues",
                "target tracking cannot use SQS metrics",
                "it can; nothing stops it",
            ),
            0,
            "With no instances the ratio has no value; this project refuses min_capacity=0 there.",
        ),
        Question(
            "Which metric tells you a burst is being absorbed rather than consumers stalling?",
            (
                "ApproximateNumberOfMessagesVisible alone",
                "ApproximateAgeOfOldestMessage",
                "NumberOfMessagesSent",
                "CPUUtilization",
            ),
            1,
            "Depth can be high in both cases; age grows only when nothing is being consumed.",
        ),
        Question(
            "What does instance warm-up change?",
            (
                "how long a new instance's metrics are left out of the group's",
                "the visibility timeout of the queue",
                "the retention of the queue",
                "nothing for SQS-driven scaling",
            ),
            0,
            "Until warmed up, a new instance does not count toward the metrics that scale.",
        ),
    ),
    # Assumes the simulator exposes main(argv) -> int, as tools/redrive.py does; if it lands
    # with another entry point, this line is the one to change.
    module="tools.scaling_sim:main",
    passthrough=True,
    requires="tools.scaling_sim",
)

LABS: tuple[Lab, ...] = (
    VISIBILITY,
    DEAD_LETTER,
    POLLING,
    FIFO,
    DELAY,
    LARGE_PAYLOAD,
    FAN_OUT,
    LAMBDA_BATCH,
    WHY_QUEUE,
    WRITE_BUFFER,
    ORDER_FAN_OUT,
    SCALING,
)


def lab(name: str) -> Lab:
    """The registered lab called `name`."""
    return next(entry for entry in LABS if entry.name == name)
