"""Helpers for infrastructure tests: synthesize once, snapshot stably, run cdk-nag, the queue
rules and cfn-lint.

Synthesis costs 1-3 s, so a test module synthesizes each stack once per profile (a module-scoped
fixture) and every test reads the resulting template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

PROFILE_NAMES = ("sandbox", "production")
ROOT = Path(__file__).resolve().parent.parent

# Asset hashes (64 hex digits) change whenever handler or worker code changes; snapshots should
# catch infrastructure drift, not code edits, so they are masked.
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass
class Synthesized:
    """One synthesized app: the App (for cdk-nag), and each stack's template and file."""

    app: cdk.App
    assembly: cdk.cx_api.CloudAssembly

    def template(self, stack_id: str) -> Template:
        return Template.from_json(self.template_json(stack_id))

    def template_json(self, stack_id: str) -> dict[str, Any]:
        return json.loads(self.template_path(stack_id).read_text())

    @cached_property
    def queue_rules_report(self) -> dict[str, Any]:
        """QueueRules' part of CDK's validation report for this app ({} if it found nothing).

        The plugin runs in CDK's own validation step, as in `cdk synth`, so acknowledgments
        apply: it is added to the app and the app synthesized again (the same templates)."""
        from queue_patterns import QueueRules

        cdk.Validations.of(self.app).add_plugins(QueueRules())
        try:
            self.app.synth(force=True)
        except RuntimeError as error:  # jsii's error for CDK's ValidationFailed
            if "ValidationFailed" not in str(error):
                raise
        report = json.loads((Path(self.assembly.directory) / "validation-report.json").read_text())
        found = [r for r in report["pluginReports"] if r["pluginName"] == "QueueRules"]
        return found[0] if found else {}

    def template_path(self, stack_id: str) -> Path:
        for artifact in self.assembly.stacks:
            if artifact.stack_name == stack_id or artifact.id == stack_id:
                return Path(artifact.template_full_path)
        raise KeyError(f"no stack {stack_id!r} in the assembly")


def synthesize(profile: str, outdir: Path, **context: Any) -> Synthesized:
    """Build the whole app for `profile` (without the validation plugins, cdk-nag and QueueRules,
    which the tests run separately) and synth it, as the review tools do
    (tools/template_reader.py): cdk.json's feature flags, construct paths in the metadata."""
    from tools.template_reader import synthesize_app

    app, assembly = synthesize_app(profile, outdir, **context)
    return Synthesized(app=app, assembly=cdk.cx_api.CloudAssembly(str(assembly.directory)))


def masked(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes replaced and construct paths dropped, so that snapshots
    are stable across code edits and show infrastructure drift only."""
    resources = {}
    for logical_id, resource in template.get("Resources", {}).items():
        metadata = {k: v for k, v in resource.get("Metadata", {}).items() if k != "aws:cdk:path"}
        resource = {k: v for k, v in resource.items() if k != "Metadata"}
        resources[logical_id] = {**resource, **({"Metadata": metadata} if metadata else {})}
    template = {**template, "Resources": resources}
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


def nag_findings(app: cdk.App) -> list[str]:
    """Every unacknowledged AwsSolutions finding, as `rule at construct path` lines."""
    report = AwsSolutionsChecks().validate_scope(app)
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def queue_rule_errors(synthesized: Synthesized) -> list[str]:
    """Every unacknowledged QueueRules error, as `rule at construct path: what` lines."""
    return [
        f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}"
        for violation in synthesized.queue_rules_report.get("violations", [])
        if violation["severity"] == "error"
        for construct in violation["violatingConstructs"]
    ]


def cfn_lint_errors(template_paths: list[Path]) -> dict[Path, list[str]]:
    """cfn-lint errors (not warnings) for each template file, linted in one run (cfn-lint's
    set-up is a large share of linting one template)."""
    from cfnlint.api import ManualArgs, lint_by_config

    errors: dict[Path, list[str]] = {Path(p): [] for p in template_paths}
    for match in lint_by_config(ManualArgs(templates=[str(p) for p in template_paths])):
        if match.rule.severity == "error":
            errors[Path(match.filename)].append(f"{match.rule.id}: {match.message} ({match.path})")
    return errors


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    """`{logical id: resource}` for every resource of CloudFormation type `type_`."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def single(template: dict[str, Any], type_: str, where=lambda props: True) -> dict[str, Any]:
    """The Properties of the one resource of `type_` matching `where` (fails if not exactly one)."""
    found = [
        r.get("Properties", {})
        for r in resources_of(template, type_).values()
        if where(r.get("Properties", {}))
    ]
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]
