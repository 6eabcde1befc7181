"""Every request the patterns depend on, decided by a real IAM policy engine over the templates.

moto enforces no policy, so these are the tests that would have caught an alarm topic nobody
can publish to. Each stack in each profile: the requests its wiring implies and its own
least-privilege expectations (tools/access_wiring.py, tools/access_expectations.py), all run
through @cloud-copilot/iam-simulate in one batch per session.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from infra.test_templates import STACKS
from infra_support import PROFILE_NAMES

from tools.access_wiring import (
    ALLOWED,
    DENIED,
    AccessModel,
    check_stack,
    simulate,
    wiring_requests,
)
from tools.template_reader import Assembly, StackTemplate

# Fewer requests than this for a stack means the wiring reader stopped seeing something.
# The sandbox's counts (the smaller profile: its topics have no customer-managed keys to check).
MINIMUM_REQUESTS = {
    "WriteBuffer": 60,
    "OrderFanOut": 300,
    "PaymentLedger": 55,
    "UploadProcessing": 75,
    "UsageMetering": 50,
    "LogPipeline": 80,
}


@pytest.fixture(scope="module")
def verdicts(synthesized_app):
    """{(profile, stack): [Verdict]} for the whole app, one simulator run."""
    pairs, owners = [], []
    for profile in PROFILE_NAMES:
        assembly = Assembly.from_directory(synthesized_app(profile).assembly.directory)
        for stack_id, template in assembly.stacks.items():
            model, requests = check_stack(template, profile)
            pairs += [(model, r) for r in requests]
            owners += [(profile, stack_id)] * len(requests)
    found: dict = {}
    for owner, verdict in zip(owners, simulate(pairs), strict=True):
        found.setdefault(owner, []).append(verdict)
    return found


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_request_the_pattern_depends_on_is_decided_as_expected(verdicts, stack, profile):
    results = verdicts[(profile, stack)]
    wrong = [v.explain() for v in results if not v.ok]
    assert not wrong, f"{len(wrong)} of {len(results)} requests:\n" + "\n".join(wrong)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_is_checked_both_ways(verdicts, stack, profile):
    results = verdicts[(profile, stack)]
    allowed = [v for v in results if v.request.expect == ALLOWED]
    denied = [v for v in results if v.request.expect == DENIED]
    assert len(results) >= MINIMUM_REQUESTS[stack], len(results)
    assert allowed and denied


def test_every_alarm_in_the_app_can_notify_its_topic(verdicts):
    """Seed 003's point: an alarm nobody receives is no alarm."""
    publishes = [
        v
        for results in verdicts.values()
        for v in results
        if v.request.principal == "cloudwatch.amazonaws.com"
        and v.request.action == "sns:Publish"
        and v.request.expect == ALLOWED
    ]
    assert len(publishes) > 40
    assert all(v.result == ALLOWED for v in publishes)


def _alarm_on_a_topic(topic_policy: str) -> StackTemplate:
    """A one-alarm app whose topic is encrypted with a key CloudWatch may use, and whose topic
    policy is CDK's TLS-only one (`enforce_ssl`) or that plus an allow for CloudWatch."""
    app = cdk.App()
    stack = cdk.Stack(app, "Alarmed")
    this_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
    key = kms.Key(stack, "Key")
    key.add_to_resource_policy(
        cdk.aws_iam.PolicyStatement(
            principals=[cdk.aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=this_account,
        )
    )
    topic = sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True)
    if topic_policy == "allows cloudwatch":
        topic.add_to_resource_policy(
            cdk.aws_iam.PolicyStatement(
                principals=[cdk.aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=this_account,
            )
        )
    queue = sqs.Queue(stack, "Queue")
    alarm = cloudwatch.Alarm(
        stack,
        "Age",
        metric=queue.metric_approximate_age_of_oldest_message(),
        threshold=600,
        evaluation_periods=1,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    template = app.synth().get_stack_by_name("Alarmed").template
    return StackTemplate("Alarmed", template)


def test_a_tls_only_topic_policy_shuts_cloudwatch_out():
    """The regression this check exists for: a topic policy replaces SNS's default policy, so
    CDK's enforce_ssl alone leaves no statement that lets CloudWatch publish."""
    model = AccessModel(_alarm_on_a_topic("tls only"))
    publish = [
        r for r in wiring_requests(model) if r.action == "sns:Publish" and r.expect == ALLOWED
    ]
    (verdict,) = simulate([(model, publish[0])])
    assert verdict.result == "ImplicitlyDenied"
    assert not verdict.ok
    assert "no statement allows it" in verdict.explain()


def test_a_topic_policy_that_allows_cloudwatch_lets_the_alarm_through():
    model = AccessModel(_alarm_on_a_topic("allows cloudwatch"))
    requests = wiring_requests(model)
    verdicts = simulate([(model, r) for r in requests])
    assert [v.explain() for v in verdicts if not v.ok] == []
    assert any(v.request.action == "sns:Publish" and v.result == ALLOWED for v in verdicts)
