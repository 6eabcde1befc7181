"""Build the Powertools Lambda layer from the version the handlers are tested against.

The handlers' tests run on the `aws-lambda-powertools` release that requirements-dev.txt pins;
this puts that same release, with its dependencies at the versions the tests run with (those
installed beside it), into `build/powertools-layer/python/` for the Lambda platform the functions
run on (arm64, Python 3.14), without Docker: pip downloads the wheels built for that platform. The stacks ship the folder as a LayerVersion asset
(`stacks/powertools_layer.py`). `./run install` calls this when the pin changes.

    python tools/build_powertools_layer.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-dev.txt"
LAYER_DIR = ROOT / "build" / "powertools-layer"
# What the stacks ship: the folder zipped once at build time. A single-file asset is hashed and
# staged at every synth in a fraction of the time 367 files take.
LAYER_ZIP = ROOT / "build" / "powertools-layer.zip"
DISTRIBUTION = "aws-lambda-powertools"
# The Lambda platform: the functions are arm64 on python3.14 (Amazon Linux 2023).
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.14"
# Wheel tags a python3.14 arm64 function can import: pure Python, or CPython 3.14 on aarch64.
_IMPORTABLE = re.compile(r"^(py3-none-any|py2\.py3-none-any|cp314-(cp314|abi3)-\S*aarch64\S*)$")


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The version requirements-dev.txt pins for aws-lambda-powertools (the one tests run)."""
    for line in requirements.read_text().splitlines():
        match = re.fullmatch(rf"{DISTRIBUTION}(?:\[[^\]]*\])?==([^\s#;]+)\s*(#.*)?", line.strip())
        if match:
            return match.group(1)
    raise SystemExit(f"{requirements.name} pins no {DISTRIBUTION}==<version>")


def tested_dependencies() -> list[str]:
    """`name==version` for Powertools' own dependencies (no extras), as installed where the
    tests run, so that the layer holds what was tested rather than what PyPI has newest."""
    pins = []
    for requirement in metadata.requires(DISTRIBUTION) or []:
        if ";" in requirement:  # an extra's dependency: the handlers use none
            continue
        name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0]
        pins.append(f"{name}=={metadata.version(name)}")
    return pins


def distributions(site: Path) -> dict[str, str]:
    """{distribution name: version} of everything installed in a layer's python/ folder."""
    found = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found[name.lower().replace("_", "-")] = version
    return found


def wheel_tags(site: Path) -> dict[str, list[str]]:
    """{dist-info folder: the wheel tags it was built for} for every installed distribution."""
    return {
        info.name: [
            line.split(":", 1)[1].strip()
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        ]
        for info in site.glob("*.dist-info")
    }


def build(layer_dir: Path = LAYER_DIR, version: str | None = None) -> Path:
    """(Re)build `layer_dir` with exactly the pinned Powertools and its dependencies."""
    version = version or pinned_version()
    layer_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=layer_dir.parent) as scratch:
        site = Path(scratch) / "layer" / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",  # .pyc for this machine's Python would be dead weight on 3.14
                "--platform",
                PLATFORM,
                "--implementation",
                "cp",
                "--python-version",
                PYTHON_VERSION,
                "--only-binary=:all:",  # a dependency with no wheel for the platform fails here
                "--target",
                str(site),
                f"{DISTRIBUTION}=={version}",
                *tested_dependencies(),
            ],
            check=True,
        )
        shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: nothing imports them
        check(site, version)
        if layer_dir.exists():
            shutil.rmtree(layer_dir)
        (Path(scratch) / "layer").rename(layer_dir)
    zip_layer(layer_dir, layer_dir.with_suffix(".zip"))
    return layer_dir


def zip_layer(layer_dir: Path, archive: Path) -> Path:
    """`layer_dir`'s contents as a zip whose bytes depend only on them (sorted entries, a fixed
    timestamp), so that its asset hash changes only when the layer does."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(p for p in layer_dir.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(
                str(path.relative_to(layer_dir)), date_time=(2020, 1, 1, 0, 0, 0)
            )
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(entry, path.read_bytes())
    return archive


def check(site: Path, version: str) -> None:
    """Fail unless `site` holds exactly `version` of Powertools, all of it importable on arm64
    python3.14."""
    installed = distributions(site)
    if installed.get(DISTRIBUTION) != version:
        raise SystemExit(
            f"{site} holds {DISTRIBUTION} {installed.get(DISTRIBUTION)}, not {version}"
        )
    foreign = {
        info: tags
        for info, tags in wheel_tags(site).items()
        if not any(_IMPORTABLE.match(tag) for tag in tags)
    }
    if foreign:
        raise SystemExit(f"wheels that python3.14 on arm64 cannot import: {foreign}")


if __name__ == "__main__":
    built = build()
    size = sum(f.stat().st_size for f in built.rglob("*") if f.is_file())
    print(
        f"{built.relative_to(ROOT)}: {DISTRIBUTION} {pinned_version()} and "
        f"{len(distributions(built / 'python')) - 1} dependencies, {size / 1e6:.1f} MB"
    )
