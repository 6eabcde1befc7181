"""Summarize a `cdk synth` output folder: stacks, resources, and the cdk-nag verdict.

`./run demo` synthesizes every stack with cdk-nag's AwsSolutions pack on (an unacknowledged
finding fails the synth before this runs); this prints what a reviewer would look at first:
what each stack creates and every finding that was acknowledged instead of fixed, with its reason.

    python -m labs.synth_report cdk.out/sandbox
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


def report(outdir: Path) -> str:
    manifest = json.loads((outdir / "manifest.json").read_text())
    lines = []
    for name, artifact in sorted(manifest["artifacts"].items()):
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        types = Counter(r["Type"] for r in template["Resources"].values())
        top = ", ".join(f"{n} {t.split('::', 1)[1]}" for t, n in types.most_common(6))
        lines.append(f"  {name}: {sum(types.values())} resources ({top}, ...)")
        metadata_file = artifact.get("additionalMetadataFile")
        metadata = json.loads((outdir / metadata_file).read_text()) if metadata_file else {}
        for path, entries in sorted({**artifact.get("metadata", {}), **metadata}.items()):
            for entry in entries:
                if entry["type"] == ACKNOWLEDGED:
                    for rule, reason in entry["data"].items():
                        rule = rule.split("::", 1)[-1] if rule.startswith("Annotation") else rule
                        lines.append(f"    acknowledged {rule} at {path}\n      because {reason}")
    validation = outdir / "validation-report.json"
    reports = json.loads(validation.read_text())["pluginReports"] if validation.exists() else []
    # The file holds one report per validation plugin, passed or not: count the failed ones.
    for plugin in reports:
        verdict = (
            f"FAILED, {len(plugin['violations'])} violations"
            if plugin.get("conclusion") == "failure"
            else "passed"
        )
        lines.append(f"  {plugin['pluginName']}: {verdict}")
    if not any(plugin.get("conclusion") == "failure" for plugin in reports):
        # An unacknowledged cdk-nag finding fails `cdk synth` itself, before this report runs.
        lines.append("  cdk-nag AwsSolutions: no unacknowledged finding")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")))
