"""How long `cdk synth` takes for the whole app, against an empty CDK app on the same machine.

Synthesis is what every `cdk diff`, `cdk deploy` and test run pays first, so it is a budget:
the target is at most 2x an empty app (whose cost is mostly Python importing aws_cdk, the jsii
runtime starting Node, and CDK's built-in CloudFormation validator loading). Two measures, each a
fresh process per run with cdk-nag on: `python app.py` alone, and the pinned `cdk synth` CLI as a
user runs it. The median of several runs is printed, with the ratio and the target.

The app turns CDK's built-in CloudFormation validation off (app.py says why; the suite runs it
and cfn-lint instead), while the empty app keeps CDK's defaults. So that the saving is not
mistaken for a lean app, the first measure also prints the ratio against an empty app with that
validation off too: like for like.

    python -m benchmarks.synth_time [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0

EMPTY_APP = """
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""


def timed_run(
    args: list[str], profile: str, *, project_context: bool = True, validation: bool = True
) -> float:
    """Seconds for one fresh process to synthesize into a temporary folder. The empty app gets
    CDK's defaults (with this project's strict validation an empty stack is an error), or those
    without the built-in CloudFormation validation (`validation=False`)."""
    with tempfile.TemporaryDirectory() as outdir:
        flags = json.loads((ROOT / "cdk.json").read_text())["context"] if project_context else {}
        context = flags | {"profile": profile}
        env = os.environ | {
            "CDK_OUTDIR": outdir,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        if not validation:
            env["CDK_VALIDATION"] = "false"
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def timed_cli(app_dir: Path, profile: str) -> float:
    """Seconds for `cdk synth` (the pinned CLI) to synthesize the app in `app_dir`."""
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    with tempfile.TemporaryDirectory() as outdir:
        env = os.environ | {
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "1",
        }
        start = time.perf_counter()
        subprocess.run(
            [str(cli), "synth", "--quiet", "-c", f"profile={profile}", "-o", outdir],
            cwd=app_dir,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", default="sandbox")
    options = parser.parse_args()

    empty = [
        timed_run([sys.executable, "-c", EMPTY_APP], options.profile, project_context=False)
        for _ in range(options.repeats)
    ]
    whole = [timed_run([sys.executable, "app.py"], options.profile) for _ in range(options.repeats)]
    report("python app.py (what tests and the CLI's app command run)", empty, whole)
    bare = [
        timed_run(
            [sys.executable, "-c", EMPTY_APP],
            options.profile,
            project_context=False,
            validation=False,
        )
        for _ in range(options.repeats)
    ]
    report(
        "the same, like for like: the empty app's built-in validation off too (no target)",
        bare,
        whole,
        target=False,
    )

    if (ROOT / "node_modules" / ".bin" / "cdk").exists():
        with tempfile.TemporaryDirectory() as empty_dir:
            (Path(empty_dir) / "app.py").write_text(EMPTY_APP)
            (Path(empty_dir) / "cdk.json").write_text(
                json.dumps({"app": f"{sys.executable} app.py"})
            )
            empty_cli = [
                timed_cli(Path(empty_dir), options.profile) for _ in range(options.repeats)
            ]
        whole_cli = [timed_cli(ROOT, options.profile) for _ in range(options.repeats)]
        report("npx cdk synth (what a user types)", empty_cli, whole_cli)


def report(title: str, empty: list[float], whole: list[float], *, target: bool = True) -> None:
    empty_s, whole_s = statistics.median(empty), statistics.median(whole)
    ratio = whole_s / empty_s
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    goal = f"target <= {TARGET_RATIO:.1f}  {verdict}" if target else "(the app's own work)"
    runs = lambda times: ", ".join(f"{t:.2f}" for t in times)  # noqa: E731
    print(f"{title}, median of {len(empty)} fresh processes:")
    print(f"  empty CDK app              {empty_s:6.2f} s   (runs: {runs(empty)})")
    print(f"  whole app, cdk-nag on      {whole_s:6.2f} s   (runs: {runs(whole)})")
    print(f"  ratio whole / empty        {ratio:6.2f}     {goal}")


if __name__ == "__main__":
    main()
