"""The Powertools layer every Lambda function of this app deploys: the release the tests run.

The handlers are tested against the `aws-lambda-powertools` release that requirements-dev.txt
pins; `./run install` builds that release for arm64/python3.14 into `build/powertools-layer/`
(tools/build_powertools_layer.py), and each stack ships it, zipped, as a LayerVersion asset. No
bundling happens at synth: a missing or stale folder fails synth with the command to run.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from queue_patterns.lambda_queue_consumer import RUNTIME

from tools.build_powertools_layer import LAYER_DIR, LAYER_ZIP, ROOT, distributions, pinned_version


def powertools_layer(scope: Construct, id_: str = "PowertoolsLayer") -> lambda_.LayerVersion:
    """A LayerVersion holding exactly the Powertools release requirements-dev.txt pins."""
    version = pinned_version()
    built = distributions(LAYER_DIR / "python").get("aws-lambda-powertools")
    if built != version or not LAYER_ZIP.is_file():
        found = f"holds Powertools {built}" if built else "does not exist"
        raise RuntimeError(
            f"Powertools layer: {LAYER_DIR.relative_to(ROOT)} {found}, and requirements-dev.txt "
            f"pins {version}; build it with `./run install` "
            "(or `.venv/bin/python tools/build_powertools_layer.py`)"
        )
    return lambda_.LayerVersion(
        scope,
        id_,
        code=lambda_.Code.from_asset(str(LAYER_ZIP)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        description=f"Powertools for AWS Lambda (Python) {version}, the release the handler "
        "tests run, built from PyPI's arm64 wheels",
    )
