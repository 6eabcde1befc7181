"""REST API that validates a JSON body and sends it straight to SQS: a frontend with no code.

Why a construct: the front door of a write buffer must take a burst at API Gateway's scale and
never let a malformed request reach the queue. An AWS service integration (API Gateway calls
SQS SendMessage itself) has no Lambda in the path, so there is no cold start, no function
concurrency to exhaust and no code to patch; a request model (JSON Schema draft 4:
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-create-model.html) rejects a
bad body with a 400 that says what is wrong. IAM authorization, access logs, execution logs, X-Ray tracing and throttling are on
by default; a WAF web ACL with AWS managed rules and a per-IP rate rule can be attached.

Copy this file into any CDK app: it imports only `aws_cdk` and `constructs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Names, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# API Gateway validates request bodies against JSON Schema draft 4.
DRAFT_4 = "http://json-schema.org/draft-04/schema#"
# Where AWS states the limits enforced below (as of 2026-12-02).
API_GATEWAY_MODELS = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-create-model.html"
)
WAF_RATE_BASED = "https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html"

SEND_MESSAGE_TEMPLATE = (
    "Action=SendMessage"
    "&MessageBody=$util.urlEncode($input.body)"
    # The API request id travels with the message, so a worker's log line can be traced back
    # to the API access log entry of the request that produced it.
    "&MessageAttribute.1.Name=apiRequestId"
    "&MessageAttribute.1.Value.DataType=String"
    "&MessageAttribute.1.Value.StringValue=$context.requestId"
)
ACCEPTED_TEMPLATE = (
    '{"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')", '
    '"requestId": "$context.requestId"}'
)


class RestApiToQueue(Construct):
    """API Gateway REST API: `POST /<resource_path>` -> JSON-schema validation -> SQS SendMessage.

    Attributes: `api` (the RestApi), `access_log_group`, `web_acl` and `waf_log_group` (or None),
    `url`.

    Props:
        queue: the queue that receives each valid request body as one message.
        request_schema: JSON Schema (draft 4, type object) the body must match, as a plain dict.
        resource_path: the one path segment that accepts POST.
        throttle_rate_limit: stage steady-state requests per second.
        throttle_burst_limit: stage burst bucket; at least `throttle_rate_limit`.
        web_application_firewall: attach a WAF web ACL (AWS managed rules + per-IP rate rule) and log what it sees.
        waf_rate_limit_per_ip: requests per 5 minutes per IP before WAF blocks.
        log_retention: access-log retention.
        log_encryption_key: customer-managed KMS key for the log group; None: CloudWatch Logs' own encryption.
        removal_policy: what `cdk destroy` does to the access logs (the account-wide logging role is always kept).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        request_schema: Mapping[str, Any],
        resource_path: str = "messages",
        throttle_rate_limit: int = 1000,
        throttle_burst_limit: int = 2000,
        web_application_firewall: bool = True,
        waf_rate_limit_per_ip: int = 2000,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        _validate(
            request_schema,
            resource_path,
            throttle_rate_limit,
            throttle_burst_limit,
            waf_rate_limit_per_ip,
        )

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention,
            encryption_key=log_encryption_key,
            removal_policy=removal_policy,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            description=f"Validates POST /{resource_path} and sends the body to SQS",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            # The logging role is an account-wide API Gateway setting that other APIs rely on:
            # never delete it with this stack (it costs nothing to keep).
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
            ),
        )
        # A rejected body gets a 400 that names what is wrong, in JSON, not API Gateway's
        # bare "Invalid request body".
        self.api.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={
                "application/json": (
                    '{"message": "Invalid request body", '
                    '"errors": "$context.error.validationErrorString", '
                    '"requestId": "$context.requestId"}'
                )
            },
        )

        send_role = iam.Role(
            self,
            "SendRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets API Gateway send validated request bodies to the queue, nothing else",
        )
        # SendMessage only (no queue reads), and on an encrypted queue only the two key actions
        # SQS needs to encrypt what it is sent, only through SQS.
        send_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
        )
        if queue.encryption_master_key is not None:
            send_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[queue.encryption_master_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"sqs.{Stack.of(self).region}.amazonaws.com"
                        }
                    },
                )
            )

        model = apigw.Model(
            self,
            "RequestModel",
            rest_api=self.api,
            content_type="application/json",
            description=str(request_schema.get("description", "Request body")),
            schema=_to_json_schema(request_schema),
        )
        integration = apigw.AwsIntegration(
            service="sqs",
            path=f"{Aws.ACCOUNT_ID}/{queue.queue_name}",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=send_role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_parameters={
                    "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
                    "integration.request.header.Accept": "'application/json'",
                },
                request_templates={"application/json": SEND_MESSAGE_TEMPLATE},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="202",
                        selection_pattern="2\\d{2}",
                        response_templates={"application/json": ACCEPTED_TEMPLATE},
                    ),
                    # SQS throttling or an outage: tell the client to retry, hide the details.
                    apigw.IntegrationResponse(
                        status_code="503",
                        selection_pattern="5\\d{2}",
                        response_templates={
                            "application/json": '{"message": "Queue unavailable, retry later"}'
                        },
                    ),
                    apigw.IntegrationResponse(
                        status_code="500",
                        selection_pattern="4\\d{2}",
                        response_templates={
                            "application/json": '{"message": "Could not accept the request"}'
                        },
                    ),
                ],
            ),
        )
        resource = self.api.root.add_resource(resource_path)
        resource.add_method(
            "POST",
            integration,
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=apigw.RequestValidator(
                self,
                "BodyValidator",
                rest_api=self.api,
                validate_request_body=True,
                validate_request_parameters=True,
            ),
            request_models={"application/json": model},
            method_responses=[
                apigw.MethodResponse(status_code=code) for code in ("202", "500", "503")
            ],
        )
        self.url = self.api.url

        self.web_acl = None
        self.waf_log_group = None
        if web_application_firewall:
            self.web_acl = _web_acl(self, waf_rate_limit_per_ip)
            wafv2.CfnWebACLAssociation(
                self,
                "WebAclAssociation",
                resource_arn=self.api.deployment_stage.stage_arn,
                web_acl_arn=self.web_acl.attr_arn,
            )
            self.waf_log_group = _waf_logging(
                self, self.web_acl, log_retention, log_encryption_key, removal_policy
            )


def _validate(schema, resource_path, rate_limit, burst_limit, waf_rate_limit) -> None:
    name = "RestApiToQueue"
    if schema.get("$schema", DRAFT_4) != DRAFT_4:
        raise ValueError(
            f"{name}.request_schema: $schema {schema.get('$schema')!r} is not JSON Schema "
            f"draft 4 ({DRAFT_4}), the only draft API Gateway request models accept "
            f"({API_GATEWAY_MODELS})"
        )
    if schema.get("type") != "object":
        raise ValueError(
            f"{name}.request_schema: type {schema.get('type')!r} is not 'object'; the body "
            "becomes one SQS message, so the schema must describe one JSON object"
        )
    if not resource_path or not resource_path.replace("-", "").replace("_", "").isalnum():
        raise ValueError(
            f"{name}.resource_path: {resource_path!r} must be one path segment of letters, "
            "digits, '-' or '_'"
        )
    if rate_limit < 1 or burst_limit < rate_limit:
        raise ValueError(
            f"{name}.throttle_burst_limit: {burst_limit} is less than throttle_rate_limit "
            f"({rate_limit}) or the rate is under 1; the bucket must hold at least one second "
            "of the steady rate"
        )
    if not 10 <= waf_rate_limit <= 2_000_000_000:
        raise ValueError(
            f"{name}.waf_rate_limit_per_ip: {waf_rate_limit} is outside 10..2,000,000,000 "
            f"(the range a WAF rate-based rule accepts: {WAF_RATE_BASED})"
        )


_SCHEMA_KEYS = {
    "$schema": "schema",
    "$ref": "ref",
    "additionalProperties": "additional_properties",
    "minItems": "min_items",
    "maxItems": "max_items",
    "minLength": "min_length",
    "maxLength": "max_length",
    "uniqueItems": "unique_items",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
    "minProperties": "min_properties",
    "maxProperties": "max_properties",
    "patternProperties": "pattern_properties",
    "additionalItems": "additional_items",
}


def _to_json_schema(schema: Mapping[str, Any]) -> apigw.JsonSchema:
    """Turn a plain JSON Schema (as loaded from a .json file) into CDK's typed `JsonSchema`."""
    kwargs: dict[str, Any] = {}
    for key, value in schema.items():
        name = _SCHEMA_KEYS.get(key, key)
        if key == "$schema":
            value = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            value = apigw.JsonSchemaType[value.upper()]
        elif key in ("properties", "patternProperties"):
            value = {k: _to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "additionalItems") and isinstance(
            value, dict
        ):
            value = _to_json_schema(value)
        kwargs[name] = value
    return apigw.JsonSchema(**kwargs)


def _web_acl(scope: Construct, rate_limit_per_ip: int) -> wafv2.CfnWebACL:
    """AWS managed common and known-bad-input rules, plus a per-IP rate limit."""

    def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
        )

    def managed(priority: int, rule_group: str) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=rule_group,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=rule_group
                )
            ),
            visibility_config=visibility(rule_group),
        )

    return wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=visibility("RestApiToQueue"),
        rules=[
            managed(0, "AWSManagedRulesCommonRuleSet"),
            managed(1, "AWSManagedRulesKnownBadInputsRuleSet"),
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=2,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP", limit=rate_limit_per_ip
                    )
                ),
                visibility_config=visibility("RateLimitPerIp"),
            ),
        ],
    )


def _waf_logging(scope, web_acl, retention, key, removal_policy) -> logs.LogGroup:
    """Log every request the web ACL evaluates (what it blocked, and why) to CloudWatch Logs, in
    a log group whose name starts with `aws-waf-logs-` as WAF requires
    (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html). The SigV4
    Authorization header is redacted: a log reader needs the request, not the signature."""
    group = logs.LogGroup(
        scope,
        "WafLogs",
        log_group_name=f"aws-waf-logs-{Names.unique_resource_name(scope, max_length=200)}",
        retention=retention,
        encryption_key=key,
        removal_policy=removal_policy,
    )
    stack = Stack.of(scope)
    wafv2.CfnLoggingConfiguration(
        scope,
        "WafLogging",
        resource_arn=web_acl.attr_arn,
        # WAF wants the log group's ARN without the `:*` that `log_group_arn` ends with.
        log_destination_configs=[
            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:"
            f"{group.log_group_name}"
        ],
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                single_header={"Name": "authorization"}
            )
        ],
    )
    return group
