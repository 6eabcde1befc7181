"""Each pattern's least-privilege expectations: what its code calls, and what it must not.

The wiring (tools/access_wiring.py) proves that the services can reach each other; this module
says, stack by stack, what each role's code actually calls (read from the handlers and the
worker) and the neighbouring requests it must be refused: the write-buffer API may send but
never receive, the audit trail may be written but never rewritten through UpdateItem or
DeleteItem, a consumer may touch only its own idempotency records, the worker may read only
its own secret and mark only its own group's instances.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.access_wiring import ALLOWED, DENIED, AccessModel, Request, _with_twins
from tools.template_reader import ACCOUNT, REGION


def expected_requests(model: AccessModel, profile: str) -> list[Request]:
    """The expectations of `model`'s stack (none for a stack this module does not know)."""
    expectations = EXPECTATIONS.get(model.template.stack_id)
    return expectations(Expect(model)) if expectations else []


class Expect:
    """Builds requests by construct path, so that expectations read like the stack."""

    def __init__(self, model: AccessModel) -> None:
        self.model = model
        self.template = model.template

    def role(self, path: str) -> str:
        return self.model.roles[self.template.at_path(f"{path}/Resource").logical_id]

    def arn(self, path: str) -> str:
        return self.model.arn(self.template.at_path(path))

    def has(self, path: str) -> bool:
        try:
            self.template.at_path(path)
            return True
        except KeyError:
            return False

    def key_of(self, path: str) -> str | None:
        from tools.access_wiring import key_of

        key = key_of(self.template, self.template.at_path(path))
        return self.model.arn(key) if key else None

    def allow(
        self, why: str, principal: str, action: str, resource: str, **context
    ) -> list[Request]:
        return _with_twins(Request(why, principal, action, resource).with_context(**context))

    def deny(
        self, why: str, principal: str, action: str, resource: str, **context
    ) -> list[Request]:
        return [Request(why, principal, action, resource, DENIED).with_context(**context)]

    def via(self, service: str) -> dict[str, str]:
        return {
            "kms__ViaService": f"{service}.{REGION}.amazonaws.com",
            "kms__CallerAccount": ACCOUNT,
        }

    def table_items(
        self,
        why: str,
        role: str,
        table: str,
        allowed: list[str],
        denied: list[str],
        leading_key: str | None = None,
    ) -> list[Request]:
        """DynamoDB item actions on one table: the ones the code calls, and the ones it must not."""
        arn = self.arn(table)
        context = {"dynamodb__LeadingKeys": [leading_key]} if leading_key else {}
        requests = []
        for action in allowed:
            requests += self.allow(why, role, f"dynamodb:{action}", arn, **context)
        for action in denied:
            requests += self.deny(
                f"{why}: not {action}", role, f"dynamodb:{action}", arn, **context
            )
        return requests


SESSION_MANAGER = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


def write_buffer(e: Expect) -> list[Request]:
    worker = e.role("Workers/InstanceRole")
    api = e.role("Frontend/SendRole")
    queue, dead_letters = e.arn("Orders/Queue/Resource"), e.arn("Orders/DeadLetter/Resource")
    database = e.template.at_path(
        "Database/Cluster/Resource"
        if e.has("Database/Cluster/Resource")
        else "Database/Instance/Resource"
    )
    resource_id = e.template.get_att(
        database.logical_id,
        "DBClusterResourceId" if database.type == "AWS::RDS::DBCluster" else "DbiResourceId",
    )
    secret = e.template.get_att(database.logical_id, "MasterUserSecret.SecretArn")
    group = e.arn("Workers/Group/ASG")
    requests = []
    consume = "the worker drains the orders queue"
    for action in (
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
    ):
        requests += e.allow(consume, worker, f"sqs:{action}", queue)
    for action in ("SendMessage", "PurgeQueue"):
        requests += e.deny(
            f"the worker only consumes: not {action}", worker, f"sqs:{action}", queue
        )
    requests += e.deny(
        "the worker does not read dead letters", worker, "sqs:ReceiveMessage", dead_letters
    )
    # The worker logs in as its own database role with an IAM token, and as no other user.
    dbuser = f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{resource_id}"
    requests += e.allow(
        "the worker logs in as the order_writer role (IAM authentication)",
        worker,
        "rds-db:connect",
        f"{dbuser}/order_writer",
    )
    for user in ("app_admin", "postgres", "rdsadmin"):
        requests += e.deny(
            f"the worker logs in as no other database user: not {user}",
            worker,
            "rds-db:connect",
            f"{dbuser}/{user}",
        )
    requests += e.deny(
        "the worker logs in to no other database",
        worker,
        "rds-db:connect",
        f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:cluster-SOMEONEELSES/order_writer",
    )
    requests += e.allow(
        "the schema step at boot reads the master secret RDS manages",
        worker,
        "secretsmanager:GetSecretValue",
        secret,
    )
    other_secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:someone-elses-secret-AbCdEf"
    requests += e.deny(
        "the worker reads no other secret", worker, "secretsmanager:GetSecretValue", other_secret
    )
    requests += e.allow(
        "a failing worker marks its own instance Unhealthy",
        worker,
        "autoscaling:SetInstanceHealth",
        group,
    )
    other_group = group.replace("autoScalingGroupName/", "autoScalingGroupName/someone-elses-")
    requests += e.deny(
        "the worker marks no other group's instances",
        worker,
        "autoscaling:SetInstanceHealth",
        other_group,
    )
    for action in SESSION_MANAGER:
        resource = (
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"
            if action.startswith("ssm:")
            else "*"
        )
        requests += e.allow(
            "Session Manager reaches the instance (no SSH)", worker, action, resource
        )
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/payments/api-key"
    for action in ("ssm:GetParameter", "ssm:GetParameters"):
        requests += e.deny("the worker reads no SSM parameter", worker, action, parameter)
    requests += e.deny(
        "the worker runs no Run Command documents", worker, "ec2messages:GetMessages", "*"
    )
    for action in ("ReceiveMessage", "DeleteMessage", "PurgeQueue", "ChangeMessageVisibility"):
        requests += e.deny(f"the API only sends: not {action}", api, f"sqs:{action}", queue)
    queue_key = e.key_of("Orders/Queue/Resource")
    if queue_key:
        requests += e.allow(consume, worker, "kms:Decrypt", queue_key, **e.via("sqs"))
        requests += e.deny(
            "the API uses the queue key only through SQS", api, "kms:Decrypt", queue_key
        )
        for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"):
            requests += e.deny(f"the API needs no {action}", api, action, queue_key, **e.via("sqs"))
        database_key = e.arn("DatabaseKey/Resource") if e.has("DatabaseKey/Resource") else None
        if database_key:
            requests += e.deny(
                "the API cannot use the database's key",
                api,
                "kms:Decrypt",
                database_key,
                **e.via("sqs"),
            )
            requests += e.allow(
                "the worker decrypts its secret",
                worker,
                "kms:Decrypt",
                database_key,
                **e.via("secretsmanager"),
            )
    return requests


IDEMPOTENT_CONSUMERS = {"Inventory": "inventory", "Payment": "payment", "Shipping": "shipping"}
ITEM_ACTIONS = {
    # table path: (what the handler calls, what it must not)
    "Inventory": ("InventoryTable", ["PutItem", "UpdateItem"], ["DeleteItem", "Scan"]),
    "Payment": ("PaymentsTable", ["PutItem", "UpdateItem"], ["DeleteItem", "Scan"]),
    "Shipping": ("ShipmentsTable", ["PutItem"], ["UpdateItem", "DeleteItem", "Scan"]),
    # The audit trail is written, never rewritten: no UpdateItem, no DeleteItem, no reads.
    "Audit": ("OrderEventsTable", ["PutItem"], ["UpdateItem", "DeleteItem", "GetItem", "Scan"]),
}
IDEMPOTENCY_ACTIONS = ["GetItem", "PutItem", "UpdateItem", "DeleteItem"]


def order_fan_out(e: Expect) -> list[Request]:
    requests = []
    for unit, (table, allowed, denied) in ITEM_ACTIONS.items():
        role = e.role(f"{unit}Consumer/Role")
        requests += e.table_items(
            f"the {unit.lower()} consumer's own table", role, f"{table}/Resource", allowed, denied
        )
        prefix = IDEMPOTENT_CONSUMERS.get(unit)
        if prefix is None:
            continue
        requests += e.table_items(
            f"the {prefix} consumer's own idempotency records",
            role,
            "IdempotencyTable/Resource",
            IDEMPOTENCY_ACTIONS,
            ["Scan"],
            leading_key=f"{prefix}#0f343b0931126a20f133d67c2b018a3b",
        )
        for other in IDEMPOTENT_CONSUMERS.values():
            if other != prefix:
                requests += e.deny(
                    f"the {prefix} consumer cannot touch the {other} consumer's records",
                    role,
                    "dynamodb:PutItem",
                    e.arn("IdempotencyTable/Resource"),
                    dynamodb__LeadingKeys=[f"{other}#0f343b0931126a20f133d67c2b018a3b"],
                )
    return requests


def payment_ledger(e: Expect) -> list[Request]:
    role = e.role("LedgerConsumer/Role")
    return e.table_items(
        "the ledger reads and advances each payment",
        role,
        "LedgerTable/Resource",
        ["GetItem", "UpdateItem"],
        ["PutItem", "DeleteItem", "Scan"],
    )


def upload_processing(e: Expect) -> list[Request]:
    role = e.role("Processor/Role")
    uploads = e.arn("Buckets/Uploads/Resource")
    processed = e.arn("Buckets/Processed/Resource")
    requests = e.allow(
        "the processor reads new uploads", role, "s3:GetObject", f"{uploads}/incoming/photo.png"
    )
    requests += e.allow(
        "the processor stores results", role, "s3:PutObject", f"{processed}/processed/photo.png.gz"
    )
    requests += e.deny(
        "the processor rewrites no upload", role, "s3:PutObject", f"{uploads}/incoming/photo.png"
    )
    requests += e.deny(
        "the processor deletes no upload", role, "s3:DeleteObject", f"{uploads}/incoming/photo.png"
    )
    requests += e.deny(
        "the processor reads nothing outside incoming/",
        role,
        "s3:GetObject",
        f"{uploads}/private/x",
    )
    requests += e.deny(
        "the processor reads no result", role, "s3:GetObject", f"{processed}/processed/photo.png.gz"
    )
    return requests


def usage_metering(e: Expect) -> list[Request]:
    batcher = e.role("Batcher/Role")
    queue = e.arn("UsageEvents/Queue/Resource")
    batches = e.arn("Buckets/Batches/Resource")
    producer = f"arn:aws:iam::{ACCOUNT}:role/usage-producer"
    e.model.add_identity(
        producer, "UsageProducerPolicy", _managed_document(e, "UsageProducerPolicy")
    )
    requests = []
    for action in ("ReceiveMessage", "DeleteMessage"):
        requests += e.allow("the batcher drains the usage queue", batcher, f"sqs:{action}", queue)
    requests += e.allow(
        "the batcher writes one object per run",
        batcher,
        "s3:PutObject",
        f"{batches}/usage/dt=2026-01-01/run.jsonl.gz",
    )
    requests += e.deny(
        "the batcher reads no batch back",
        batcher,
        "s3:GetObject",
        f"{batches}/usage/dt=2026-01-01/run.jsonl.gz",
    )
    requests += e.allow(
        "a producer with the producer policy sends usage events", producer, "sqs:SendMessage", queue
    )
    for action in ("ReceiveMessage", "DeleteMessage", "PurgeQueue"):
        requests += e.deny(f"a producer only sends: not {action}", producer, f"sqs:{action}", queue)
    queue_key = e.key_of("UsageEvents/Queue/Resource")
    if queue_key:
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            requests += e.allow(
                "a producer sends encrypted events", producer, action, queue_key, **e.via("sqs")
            )
        requests += e.deny(
            "a producer uses the key only through SQS", producer, "kms:Decrypt", queue_key
        )
        requests += e.allow(
            "the batcher reads encrypted events", batcher, "kms:Decrypt", queue_key, **e.via("sqs")
        )
    return requests


def log_pipeline(e: Expect) -> list[Request]:
    shippers = e.role("Shippers/InstanceRole")
    archivers = e.role("Archivers/InstanceRole")
    compaction = e.role("Compaction/Role")
    lines = e.arn("LogLines/Queue/Resource")
    jobs = e.arn("CompactionJobs/Queue/Resource")
    archive = e.arn("Buckets/Archive/Resource")
    requests = e.allow("the shippers send log lines", shippers, "sqs:SendMessage", lines)
    for action in ("ReceiveMessage", "DeleteMessage", "PurgeQueue"):
        requests += e.deny(f"a shipper only sends: not {action}", shippers, f"sqs:{action}", lines)
    for action in ("ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility"):
        requests += e.allow("the archivers drain the log queue", archivers, f"sqs:{action}", lines)
        requests += e.allow("the archivers take compaction jobs", archivers, f"sqs:{action}", jobs)
    requests += e.deny("an archiver sends no log lines", archivers, "sqs:SendMessage", lines)
    raw, hourly = f"{archive}/raw/dt=2026-01-01/hour=00/part.jsonl.gz", f"{archive}/hourly/x.gz"
    requests += e.allow("an archiver writes a raw part", archivers, "s3:PutObject", raw)
    requests += e.allow("compaction reads the raw parts", archivers, "s3:GetObject", raw)
    requests += e.allow("compaction writes the hour", archivers, "s3:PutObject", hourly)
    requests += e.deny("compaction reads no compacted hour back", archivers, "s3:GetObject", hourly)
    requests += e.deny("an archiver deletes nothing", archivers, "s3:DeleteObject", raw)
    for action in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # These actions support no resource-level permission: IAM evaluates them against "*".
        requests += [
            Request("the archiver answers the waiting task", archivers, f"states:{action}", "*")
        ]
    requests += e.allow(
        "the state machine sends the job with its token", compaction, "sqs:SendMessage", jobs
    )
    requests += e.deny(
        "the state machine reads no job back", compaction, "sqs:ReceiveMessage", jobs
    )
    requests += e.deny(
        "the state machine touches no log line", compaction, "sqs:SendMessage", lines
    )
    return requests


def _managed_document(e: Expect, path: str) -> dict:
    policy = e.template.at_path(f"{path}/Resource")
    return e.template.resolve(policy.properties["PolicyDocument"])


EXPECTATIONS: dict[str, Callable[[Expect], list[Request]]] = {
    "WriteBuffer": write_buffer,
    "OrderFanOut": order_fan_out,
    "PaymentLedger": payment_ledger,
    "UploadProcessing": upload_processing,
    "UsageMetering": usage_metering,
    "LogPipeline": log_pipeline,
}

__all__ = ["ALLOWED", "DENIED", "EXPECTATIONS", "expected_requests"]
