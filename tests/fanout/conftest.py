"""Fixtures for the fan-out tests: the consumers' DynamoDB tables on moto, and the environment
the handlers read at import (their boto3 clients then talk to moto's server)."""

from __future__ import annotations

import os

import pytest

TABLES = {
    "INVENTORY_TABLE": ("inventory", "pk", None),
    "PAYMENTS_TABLE": ("payments", "orderId", None),
    "SHIPMENTS_TABLE": ("shipments", "orderId", None),
    "EVENTS_TABLE": ("order-events", "orderId", "eventKey"),
    "IDEMPOTENCY_TABLE": ("idempotency", "id", None),
    "LEDGER_TABLE": ("payment-ledger", "orderId", None),
}


@pytest.fixture(scope="session")
def lambda_environment(moto):
    """Tables created once; handler modules import once per session against them."""
    environment = {
        **moto.environment(),
        "POWERTOOLS_SERVICE_NAME": "test",
        "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
    }
    os.environ.update(environment)
    dynamodb = moto.client("dynamodb")
    for variable, (name, partition, sort) in TABLES.items():
        keys = [{"AttributeName": partition, "KeyType": "HASH"}]
        attributes = [{"AttributeName": partition, "AttributeType": "S"}]
        if sort:
            keys.append({"AttributeName": sort, "KeyType": "RANGE"})
            attributes.append({"AttributeName": sort, "AttributeType": "S"})
        if name not in dynamodb.list_tables()["TableNames"]:
            dynamodb.create_table(
                TableName=name,
                KeySchema=keys,
                AttributeDefinitions=attributes,
                BillingMode="PAY_PER_REQUEST",
            )
        os.environ[variable] = name
    return {variable: name for variable, (name, _, _) in TABLES.items()}


@pytest.fixture(scope="session")
def dynamodb(moto, lambda_environment):
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def stock(dynamodb, lambda_environment):
    """`stock(sku, available)`: put a stock row for the inventory consumer."""
    table = dynamodb.Table(lambda_environment["INVENTORY_TABLE"])

    def put(sku: str, available: int) -> None:
        table.put_item(Item={"pk": f"SKU#{sku}", "available": available, "reserved": 0})

    return put
