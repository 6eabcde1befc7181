"""Fixtures for the fan-out tests: the consumers' DynamoDB tables on moto, and the environment
the handlers read at import (their boto3 clients then talk to moto's server)."""

from __future__ import annotations

import os

import pytest

from labs.fan_out_lab import TABLES, create_tables, handler_environment


@pytest.fixture(scope="session")
def lambda_environment(moto):
    """Tables created once; handler modules import once per session against them."""
    environment = handler_environment(moto)
    os.environ.update(environment)
    create_tables(moto)
    return {variable: environment[variable] for variable in TABLES}


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
