"""The synth report a newcomer reads after `./run demo`: passing plugins read as passed."""

from __future__ import annotations

import json

from labs.synth_report import report


def _outdir(tmp_path, *plugin_reports):
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    (tmp_path / "validation-report.json").write_text(
        json.dumps({"version": "55.0.0", "pluginReports": list(plugin_reports)})
    )
    return tmp_path


def test_a_passing_plugin_report_is_not_counted_as_a_failure(tmp_path):
    outdir = _outdir(
        tmp_path,
        {"pluginName": "CloudFormation Validate", "conclusion": "success", "violations": []},
    )
    text = report(outdir)
    assert "CloudFormation Validate: passed" in text
    assert "cdk-nag AwsSolutions: no unacknowledged finding" in text
    assert "fail" not in text.lower()


def test_a_failing_plugin_report_is_named_with_its_violation_count(tmp_path):
    outdir = _outdir(
        tmp_path,
        {"pluginName": "CloudFormation Validate", "conclusion": "success", "violations": []},
        {"pluginName": "AwsSolutions", "conclusion": "failure", "violations": [{}, {}]},
    )
    text = report(outdir)
    assert "AwsSolutions: FAILED, 2 violations" in text
    assert "no unacknowledged finding" not in text
