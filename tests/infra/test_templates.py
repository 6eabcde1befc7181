"""Every stack, in both profiles: snapshot, cdk-nag AwsSolutions, the queue rules, cfn-lint.

Snapshots catch unplanned drift (asset hashes are masked, so code edits do not count); the
fine-grained assertions on what matters live in each stack's own test module.
"""

from __future__ import annotations

import pytest
from infra_support import (
    PROFILE_NAMES,
    cfn_lint_errors,
    masked,
    nag_findings,
    queue_rule_errors,
)

STACKS = (
    "WriteBuffer",
    "OrderFanOut",
    "PaymentLedger",
    "UploadProcessing",
    "UsageMetering",
    "LogPipeline",
)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("stack", STACKS)
def test_template_matches_snapshot(synthesized_app, stack, profile, snapshot):
    assert masked(synthesized_app(profile).template_json(stack)) == snapshot


@pytest.fixture(scope="module")
def lint_errors(synthesized_app):
    """`lint_errors(profile)`: {stack: cfn-lint errors}, every stack of a profile in one run."""
    found = {}

    def get(profile):
        if profile not in found:
            app = synthesized_app(profile)
            paths = {stack: app.template_path(stack) for stack in STACKS}
            errors = cfn_lint_errors(list(paths.values()))
            found[profile] = {stack: errors[path] for stack, path in paths.items()}
        return found[profile]

    return get


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_reports_no_error(lint_errors, stack, profile):
    assert lint_errors(profile)[stack] == []


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_cdk_nag_aws_solutions_reports_no_unacknowledged_finding(synthesized_app, profile):
    assert nag_findings(synthesized_app(profile).app) == []


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_queue_rules_report_no_unacknowledged_error(synthesized_app, profile):
    """DLQs, their retention and alarms, age alarms, alarm topics CloudWatch can publish to,
    Lambda event sources, TLS-only queues, SNS into encrypted queues, scale-in paths: the
    checks each stack's own tests used to repeat, for every stack (QueueRules, README)."""
    assert queue_rule_errors(synthesized_app(profile)) == []


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_every_stack_is_in_the_app(synthesized_app, profile):
    assert sorted(s.id for s in synthesized_app(profile).assembly.stacks) == sorted(STACKS)
