"""The write-buffer stack: what a reviewer checks in its CloudFormation, in both profiles."""

from __future__ import annotations

import json

import pytest
from infra_support import (
    PROFILE_NAMES,
    resources_of,
    single,
)

STACK = "WriteBuffer"


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def synthesized(request, synthesized_app):
    """The whole app for each profile (synthesized once per session)."""
    return synthesized_app(request.param)


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template_json(STACK)


@pytest.fixture(scope="module")
def profile(synthesized):
    return synthesized.app.node.try_get_context("profile")


def queues(template):
    """(source queue properties, dead-letter queue properties)."""
    found = resources_of(template, "AWS::SQS::Queue")
    source = [r["Properties"] for r in found.values() if "RedrivePolicy" in r["Properties"]]
    dead = [r["Properties"] for r in found.values() if "RedrivePolicy" not in r["Properties"]]
    assert len(source) == 1 and len(dead) == 1
    return source[0], dead[0]


# --- the queue ----------------------------------------------------------------------------------


# That every queue has a DLQ, outlived by it, alarmed, TLS-only: QueueRules, for every stack
# (test_templates.py). Here: this pattern's values.


def test_failed_orders_are_dead_lettered_after_five_receives(template):
    source, _ = queues(template)
    assert source["RedrivePolicy"]["maxReceiveCount"] == 5


def test_orders_are_kept_four_days_and_dead_letters_fourteen(template):
    source, dead = queues(template)
    assert source["MessageRetentionPeriod"] == 4 * 24 * 3600
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_is_three_worker_batch_budgets(template):
    source, _ = queues(template)
    assert source["VisibilityTimeout"] == 60
    environment = json.dumps(single(template, "AWS::EC2::LaunchTemplate"))
    assert "VISIBILITY_TIMEOUT_SECONDS=60" in environment


def test_consumers_long_poll(template):
    source, _ = queues(template)
    assert source["ReceiveMessageWaitTimeSeconds"] == 20


def test_queues_are_encrypted_with_the_profiles_key(template, profile):
    for props in queues(template):
        if profile == "production":
            # SQS reuses each data key for its default 300 s; the template need not say so.
            assert "KmsMasterKeyId" in props and "KmsDataKeyReusePeriodSeconds" not in props
        else:
            assert props["SqsManagedSseEnabled"] is True


# --- the frontend -------------------------------------------------------------------------------


def test_api_posts_orders_straight_to_sqs_with_iam_auth(template):
    method = single(template, "AWS::ApiGateway::Method")
    assert method["HttpMethod"] == "POST"
    assert method["AuthorizationType"] == "AWS_IAM"
    integration = method["Integration"]
    assert integration["Type"] == "AWS"
    assert ":sqs:path/" in json.dumps(integration["Uri"])
    assert integration["PassthroughBehavior"] == "NEVER"
    assert "Action=SendMessage" in integration["RequestTemplates"]["application/json"]


def test_api_validates_the_body_against_the_order_schema(template):
    validator = single(template, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True
    model = single(template, "AWS::ApiGateway::Model")
    assert model["Schema"]["required"] == ["orderId", "customerId", "items"]
    assert model["Schema"]["additionalProperties"] is False
    response = single(template, "AWS::ApiGateway::GatewayResponse")
    assert response["ResponseType"] == "BAD_REQUEST_BODY" and response["StatusCode"] == "400"
    assert "validationErrorString" in response["ResponseTemplates"]["application/json"]


def test_api_stage_logs_traces_and_throttles(template):
    stage = single(template, "AWS::ApiGateway::Stage")
    assert "DestinationArn" in stage["AccessLogSetting"]
    assert stage["TracingEnabled"] is True
    [settings] = stage["MethodSettings"]
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["ThrottlingRateLimit"] == 1000 and settings["ThrottlingBurstLimit"] == 2000


def test_production_puts_a_waf_in_front_of_the_api(template, profile):
    acls = resources_of(template, "AWS::WAFv2::WebACL")
    assert len(acls) == (1 if profile == "production" else 0)


def test_api_role_may_only_send_to_the_orders_queue(template):
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith("FrontendSendRole")
    ]
    [statements] = policies
    sqs_actions = {a for s in statements for a in _list(s["Action"]) if a.startswith("sqs:")}
    assert sqs_actions == {"sqs:SendMessage"}


# --- the workers --------------------------------------------------------------------------------


def test_workers_run_graviton_al2023_with_imdsv2_and_encrypted_disk(template, profile):
    data = single(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["InstanceType"] == ("t4g.micro" if profile == "sandbox" else "c7g.large")
    [device] = data["BlockDeviceMappings"]
    assert device["Ebs"]["Encrypted"] is True and device["Ebs"]["VolumeType"] == "gp3"
    assert "KeyName" not in data
    assert "al2023" in json.dumps(template["Parameters"]) and "arm64" in json.dumps(
        template["Parameters"]
    )


def test_worker_runs_as_a_systemd_service_from_the_asset(template):
    user_data = json.dumps(single(template, "AWS::EC2::LaunchTemplate"))
    assert "python -m write_buffer_worker" in user_data
    assert "Type=notify" in user_data and "WatchdogSec=60" in user_data
    assert "systemctl enable --now workers.service" in user_data


def test_workers_have_no_inbound_rule_and_reach_only_https_and_the_database(template):
    group = single(
        template, "AWS::EC2::SecurityGroup", lambda p: p["GroupDescription"].startswith("Queue")
    )
    assert "SecurityGroupIngress" not in group
    assert [(r["CidrIp"], r["FromPort"]) for r in group["SecurityGroupEgress"]] == [
        ("0.0.0.0/0", 443)
    ]
    egress = single(template, "AWS::EC2::SecurityGroupEgress")
    assert "DestinationSecurityGroupId" in egress


def test_fleet_scales_to_zero_and_out_in_steps_on_visible_messages(template, profile):
    group = single(template, "AWS::AutoScaling::AutoScalingGroup")
    assert group["MinSize"] == "0"
    assert group["MaxSize"] == ("2" if profile == "sandbox" else "10")
    policies = {
        p["Properties"]["AdjustmentType"]: p["Properties"]
        for p in resources_of(template, "AWS::AutoScaling::ScalingPolicy").values()
    }
    out = policies["ChangeInCapacity"]["StepAdjustments"]
    # One worker per 100,000 waiting orders (write_buffer_stack.ORDERS_PER_WORKER), bounds
    # relative to the alarm's threshold of 1.
    assert [(s.get("MetricIntervalLowerBound"), s["ScalingAdjustment"]) for s in out] == [
        (0, 1),
        (99_999, 2),
        (199_999, 4),
        (399_999, 10),
    ]
    assert policies["ChangeInCapacity"]["EstimatedInstanceWarmup"] == 300
    scale_in = policies["PercentChangeInCapacity"]
    assert scale_in["StepAdjustments"] == [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": -50}
    ]
    assert scale_in["MinAdjustmentMagnitude"] == 1


def test_scaling_alarms_watch_approximate_number_of_messages_visible(template):
    alarms = {
        a["Properties"]["AlarmDescription"]: a["Properties"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
    }
    growing = next(v for k, v in alarms.items() if "add workers" in k)
    empty = next(v for k, v in alarms.items() if "halve the workers" in k)
    for alarm in (growing, empty):
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Statistic"] == "Maximum" and alarm["Period"] == 60
    assert growing["Threshold"] == 1 and growing["EvaluationPeriods"] == 1
    assert empty["Threshold"] == 0 and empty["EvaluationPeriods"] == 5


# --- the database -------------------------------------------------------------------------------


def database(template, profile):
    """The database resource: an Aurora cluster in the sandbox, an RDS instance in production."""
    type_ = "AWS::RDS::DBCluster" if profile == "sandbox" else "AWS::RDS::DBInstance"
    [found] = resources_of(template, type_).values()
    return found


def test_database_is_private_encrypted_pinned_and_tls_only(template, profile):
    db = database(template, profile)["Properties"]
    assert db["StorageEncrypted"] is True
    assert db["DeletionProtection"] is (profile == "production")
    if profile == "sandbox":
        assert db["Engine"] == "aurora-postgresql" and db["EngineVersion"] == "17.5"
        parameters = single(template, "AWS::RDS::DBClusterParameterGroup")["Parameters"]
        [writer] = resources_of(template, "AWS::RDS::DBInstance").values()
        assert writer["Properties"]["PubliclyAccessible"] is False
        assert writer["Properties"]["AutoMinorVersionUpgrade"] is False
    else:
        assert db["Engine"] == "postgres" and db["EngineVersion"] == "17.6"
        assert db["PubliclyAccessible"] is False and db["AutoMinorVersionUpgrade"] is False
        assert db["MultiAZ"] is True
        parameters = single(template, "AWS::RDS::DBParameterGroup")["Parameters"]
    assert parameters == {"rds.force_ssl": "1"}
    subnets = single(template, "AWS::RDS::DBSubnetGroup")["SubnetIds"]
    assert all("DataSubnet" in ref["Ref"] for ref in subnets)


def test_sandbox_database_pauses_at_zero_capacity_after_five_idle_minutes(template, profile):
    if profile != "sandbox":
        pytest.skip("production runs a provisioned Multi-AZ instance")
    scaling = database(template, profile)["Properties"]["ServerlessV2ScalingConfiguration"]
    assert scaling == {"MinCapacity": 0, "MaxCapacity": 2, "SecondsUntilAutoPause": 300}
    [writer] = resources_of(template, "AWS::RDS::DBInstance").values()
    assert writer["Properties"]["DBInstanceClass"] == "db.serverless"


def test_master_password_is_rds_managed_and_rotated_without_a_lambda(template, profile):
    db = database(template, profile)["Properties"]
    assert db["ManageMasterUserPassword"] is True and "MasterUserPassword" not in db
    assert db["EnableIAMDatabaseAuthentication"] is True
    for type_ in (
        "AWS::SecretsManager::Secret",
        "AWS::SecretsManager::RotationSchedule",
        "AWS::Serverless::Application",
    ):
        assert resources_of(template, type_) == {}


def test_workers_log_in_as_their_own_role_and_only_the_schema_step_has_the_secret(template):
    script = rendered_user_data(template)
    service_env = script.split("cat > /etc/workers.env <<'ENV'", 1)[1].split("\nENV", 1)[0]
    setup_env = script.split("cat > /etc/workers-setup.env <<'ENV'", 1)[1].split("\nENV", 1)[0]
    assert "DATABASE_IAM_USER=order_writer" in service_env
    assert "DATABASE_SECRET_ARN" not in service_env
    assert "DATABASE_CA_BUNDLE=/opt/queue-worker/workers/rds-global-bundle.pem" in service_env
    assert "DATABASE_SECRET_ARN=PLACEHOLDER" in setup_env
    assert "DATABASE_WRITER_USER=order_writer" in setup_env
    assert "ExecStart=/opt/queue-worker/workers/venv/bin/python -m write_buffer_worker.schema" in (
        script
    )
    assert "Requires=workers-setup.service" in script
    [statement] = [
        st
        for p in resources_of(template, "AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Action"] == "rds-db:connect"
    ]
    assert json.dumps(statement["Resource"]).endswith('"/order_writer"]]}')


def test_database_admits_only_the_workers(template):
    sources = {
        json.dumps(rule["Properties"]["SourceSecurityGroupId"])
        for rule in resources_of(template, "AWS::EC2::SecurityGroupIngress").values()
        if "CidrIp" not in rule["Properties"]
    }
    assert len(sources) == len(resources_of(template, "AWS::EC2::SecurityGroupIngress")) == 1
    assert "WorkersSecurityGroup" in sources.pop()


def test_sandbox_is_destroyed_whole_and_production_keeps_its_data(template, profile):
    db = database(template, profile)
    queues_ = resources_of(template, "AWS::SQS::Queue").values()
    if profile == "sandbox":
        assert db["DeletionPolicy"] == "Delete"
        assert all(q["DeletionPolicy"] == "Delete" for q in queues_)
    else:
        assert db["DeletionPolicy"] == "Retain"
        assert all(q["DeletionPolicy"] == "Retain" for q in queues_)


def test_sandbox_has_no_nat_gateway(template, profile):
    nat = resources_of(template, "AWS::EC2::NatGateway")
    assert len(nat) == (0 if profile == "sandbox" else 2)


# --- alarms and outputs -------------------------------------------------------------------------


def test_dead_letters_and_backlog_age_alarm_on_the_alarm_topic(template, profile):
    alarms = [a["Properties"] for a in resources_of(template, "AWS::CloudWatch::Alarm").values()]
    dead_letters = next(a for a in alarms if a["AlarmDescription"].startswith("Messages reached"))
    age = next(a for a in alarms if a["AlarmDescription"].startswith("The oldest message"))
    assert dead_letters["Threshold"] == 1
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage" and age["Threshold"] == 600
    for alarm in (dead_letters, age):
        assert alarm["AlarmActions"] == [
            {"Ref": next(iter(resources_of(template, "AWS::SNS::Topic")))}
        ]
    topic = single(template, "AWS::SNS::Topic")
    # Encrypted in production; a sandbox's alarm topic is not (a profile trade-off).
    assert ("KmsMasterKeyId" in topic) is (profile == "production")


def test_outputs_give_a_user_what_they_need(template):
    assert {
        "ApiUrl",
        "OrdersQueueUrl",
        "OrdersDeadLetterQueueUrl",
        "DashboardUrl",
        "DatabaseSecretArn",
        "AlarmTopicArn",
    } <= set(template["Outputs"])


def _list(value):
    return value if isinstance(value, list) else [value]


GOOD_ORDER = {
    "orderId": "ord-0001-abcd",
    "customerId": "cust-42",
    "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1299}],
}
BAD_ORDERS = {
    "missing orderId": {k: v for k, v in GOOD_ORDER.items() if k != "orderId"},
    "unknown field": {**GOOD_ORDER, "discount": 100},
    "no items": {**GOOD_ORDER, "items": []},
    "zero quantity": {**GOOD_ORDER, "items": [{**GOOD_ORDER["items"][0], "quantity": 0}]},
    "quantity as text": {**GOOD_ORDER, "items": [{**GOOD_ORDER["items"][0], "quantity": "2"}]},
    "price as float": {
        **GOOD_ORDER,
        "items": [{**GOOD_ORDER["items"][0], "unitPriceCents": 12.99}],
    },
    "lowercase sku": {**GOOD_ORDER, "items": [{**GOOD_ORDER["items"][0], "sku": "book-1"}]},
    "short orderId": {**GOOD_ORDER, "orderId": "x"},
    "not an object": [GOOD_ORDER],
}


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_deployed_request_model_rejects_a_bad_order(template, case):
    """The schema as deployed (read back from the template) turns these bodies into 400s."""
    from jsonschema import Draft4Validator

    model = single(template, "AWS::ApiGateway::Model")["Schema"]
    assert list(Draft4Validator(model).iter_errors(BAD_ORDERS[case])), case


def test_deployed_request_model_accepts_a_good_order(template):
    from jsonschema import Draft4Validator

    model = single(template, "AWS::ApiGateway::Model")["Schema"]
    Draft4Validator.check_schema(model)
    assert list(Draft4Validator(model).iter_errors(GOOD_ORDER)) == []


def rendered_user_data(template) -> str:
    """The launch template's user data with every CloudFormation reference made a placeholder."""
    user_data = single(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]
    parts = user_data["Fn::Base64"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "PLACEHOLDER" for p in parts)


def test_worker_boot_script_is_valid_bash(template, tmp_path):
    import subprocess

    script = tmp_path / "user-data.sh"
    script.write_text(rendered_user_data(template))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_worker_boot_script_installs_then_starts_the_service_with_its_environment(template):
    script = rendered_user_data(template)
    steps = [
        "dnf install -y python3.11",
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
        "pip install --no-cache-dir -r /opt/queue-worker/workers/requirements.txt",
        "QUEUE_URL=",
        "DATABASE_IAM_USER=order_writer",
        "MAX_WRITES_PER_SECOND=500",
        "/etc/logrotate.d/workers",
        "amazon-cloudwatch-agent-ctl",
        "systemctl enable --now workers.service",
    ]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "set -euo pipefail" in script


@pytest.fixture(scope="module")
def backlog_template(synthesized_app):
    """The sandbox stack with `-c worker_scaling=backlog_per_instance`."""
    return synthesized_app("sandbox", worker_scaling="backlog_per_instance").template_json(STACK)


def test_backlog_per_instance_tracks_visible_messages_per_in_service_instance(backlog_template):
    [policy] = [
        p["Properties"]
        for p in resources_of(backlog_template, "AWS::AutoScaling::ScalingPolicy").values()
    ]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    config = policy["TargetTrackingConfiguration"]
    assert config["TargetValue"] == 100_000
    queries = {q["Id"]: q for q in config["CustomizedMetricSpecification"]["Metrics"]}
    assert queries["backlogPerInstance"]["Expression"] == "visible / instances"
    assert queries["backlogPerInstance"]["ReturnData"] is True
    assert queries["visible"]["MetricStat"]["Metric"]["MetricName"] == (
        "ApproximateNumberOfMessagesVisible"
    )
    assert queries["instances"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"


def test_both_scaling_modes_can_scale_in(template, backlog_template):
    """QueueRules QR15 on each mode (the whole-app check sees only the default one)."""
    from queue_patterns.queue_rules import check_template

    for mode in (template, backlog_template):
        assert "QR15" not in {finding.rule.id for finding in check_template(mode)}


def test_backlog_per_instance_keeps_one_instance_since_it_cannot_scale_from_zero(
    backlog_template,
):
    group = single(backlog_template, "AWS::AutoScaling::AutoScalingGroup")
    assert group["MinSize"] == "1"
    assert resources_of(backlog_template, "AWS::CloudWatch::Alarm")  # queue alarms remain


def test_a_worker_that_keeps_failing_marks_its_instance_unhealthy(template):
    """systemd gives up after 5 failed starts in 10 minutes; OnFailure tells the ASG to replace
    the instance, which may do only that, and only for its own group."""
    script = rendered_user_data(template)
    assert "StartLimitBurst=5" in script and "OnFailure=workers-unhealthy.service" in script
    assert "aws autoscaling set-instance-health" in script and "--health-status Unhealthy" in script
    [policy] = [
        p["Properties"]
        for k, p in resources_of(template, "AWS::IAM::Policy").items()
        if k.startswith("WorkersReportHealth")
    ]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "autoscaling:SetInstanceHealth"
    assert "autoScalingGroupName/" in json.dumps(statement["Resource"])
    assert "WorkersGroupASG" in json.dumps(statement["Resource"])


def test_the_postgres_log_goes_to_a_log_group_the_stack_owns(template, profile):
    db = database(template, profile)["Properties"]
    name = f"queue-patterns-write-buffer-{profile}-database"
    kind = "cluster" if profile == "sandbox" else "instance"
    identifier = db["DBClusterIdentifier" if kind == "cluster" else "DBInstanceIdentifier"]
    assert identifier == name and db["EnableCloudwatchLogsExports"] == ["postgresql"]
    [log_group] = [
        g
        for g in resources_of(template, "AWS::Logs::LogGroup").values()
        if g["Properties"].get("LogGroupName") == f"/aws/rds/{kind}/{name}/postgresql"
    ]
    assert log_group["DeletionPolicy"] == ("Delete" if profile == "sandbox" else "Retain")
    assert resources_of(template, "Custom::LogRetention") == {}
