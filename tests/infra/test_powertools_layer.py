"""The Powertools layer the functions deploy is the release the handler tests run."""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path

import aws_cdk as cdk
import pytest
from infra_support import resources_of
from queue_patterns.lambda_queue_consumer import RUNTIME

from stacks import powertools_layer as layer_module
from tools.build_powertools_layer import LAYER_DIR, distributions, pinned_version, wheel_tags

STACKS_WITH_FUNCTIONS = ("OrderFanOut", "PaymentLedger", "UploadProcessing", "UsageMetering")


def test_the_built_layer_holds_exactly_the_pinned_release_the_handlers_are_tested_with():
    pinned = pinned_version()
    assert metadata.version("aws-lambda-powertools") == pinned  # what tests/fanout runs on
    installed = distributions(LAYER_DIR / "python")
    assert installed["aws-lambda-powertools"] == pinned
    assert [p.name for p in (LAYER_DIR / "python").glob("aws_lambda_powertools-*")] == [
        f"aws_lambda_powertools-{pinned}.dist-info"
    ]
    # Its dependencies too: the versions the handler tests import, not PyPI's newest.
    assert {name: metadata.version(name) for name in installed} == installed


def test_every_distribution_in_the_layer_is_a_wheel_python314_on_arm64_can_import():
    for info, tags in wheel_tags(LAYER_DIR / "python").items():
        assert any(t.endswith("-none-any") or "aarch64" in t for t in tags), (info, tags)


def test_every_function_deploys_the_built_layer_asset(synthesized_app):
    app = synthesized_app("sandbox")
    outdir = Path(app.assembly.directory)
    pinned = pinned_version()
    for stack in STACKS_WITH_FUNCTIONS:
        template = app.template_json(stack)
        [(logical_id, layer)] = [
            (k, v)
            for k, v in resources_of(template, "AWS::Lambda::LayerVersion").items()
            if k.startswith("PowertoolsLayer")
        ]
        asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
        with zipfile.ZipFile(outdir / f"asset.{asset_hash}.zip") as staged:
            infos = {name.split("/")[1] for name in staged.namelist() if ".dist-info/" in name}
        assert f"aws_lambda_powertools-{pinned}.dist-info" in infos
        for function in resources_of(template, "AWS::Lambda::Function").values():
            if function["Properties"].get("Runtime") != RUNTIME.name:
                continue  # CDK's own custom-resource handlers
            layers = function["Properties"].get("Layers", [])
            assert {"Ref": logical_id} in layers, (stack, json.dumps(layers))


def test_synth_without_the_built_layer_fails_naming_the_command_to_run(monkeypatch, tmp_path):
    monkeypatch.setattr(layer_module, "LAYER_DIR", tmp_path / "powertools-layer")
    monkeypatch.setattr(layer_module, "ROOT", tmp_path)
    with pytest.raises(RuntimeError, match=r"does not exist.*build it with `./run install`"):
        layer_module.powertools_layer(cdk.Stack(cdk.App(), "Test"))
