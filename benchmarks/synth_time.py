"""How long `cdk synth` takes for the whole app, against an empty CDK app on the same machine.

Synthesis is what every `cdk diff`, `cdk deploy` and test run pays first, so it is a budget:
the target is at most 2x an empty app (whose cost is mostly Python importing aws_cdk and the
jsii runtime starting Node). Each run is a fresh process, as the CDK CLI runs `python app.py`,
with cdk-nag on. The median of several runs is printed, with the ratio and the target.

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


def timed_run(args: list[str], profile: str) -> float:
    """Seconds for one fresh process to synthesize into a temporary folder."""
    with tempfile.TemporaryDirectory() as outdir:
        context = json.loads((ROOT / "cdk.json").read_text())["context"] | {"profile": profile}
        env = os.environ | {
            "CDK_OUTDIR": outdir,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", default="sandbox")
    options = parser.parse_args()

    empty = [
        timed_run([sys.executable, "-c", EMPTY_APP], options.profile)
        for _ in range(options.repeats)
    ]
    whole = [timed_run([sys.executable, "app.py"], options.profile) for _ in range(options.repeats)]
    empty_s, whole_s = statistics.median(empty), statistics.median(whole)
    ratio = whole_s / empty_s
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(f"synth time, median of {options.repeats} fresh processes, profile {options.profile}:")
    print(
        f"  empty CDK app              {empty_s:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in empty)})"
    )
    print(
        f"  whole app, cdk-nag on      {whole_s:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in whole)})"
    )
    print(f"  ratio whole / empty        {ratio:6.2f}     target <= {TARGET_RATIO:.1f}  {verdict}")


if __name__ == "__main__":
    main()
