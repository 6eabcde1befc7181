"""Keep the README's construct props tables, and its queue rules table, true to the code.

Each construct's class docstring has a `Props:` section (`name: description` per line); this
builds a markdown table from it and from the constructor's signature (type and default), and
writes it between `<!-- props:ClassName -->` and `<!-- /props:ClassName -->` in a markdown file.
A validation plugin's rules (its module's `RULES`) go between `<!-- rules:ClassName -->` and
`<!-- /rules:ClassName -->`. `--check` fails when a table is stale or a prop has no description,
so the docs cannot drift.

    python tools/props_tables.py README.md docs/*.md          # rewrite the tables
    python tools/props_tables.py --check README.md docs/*.md  # what the tests run
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.aws_facts import facts_enforced_by  # noqa: E402

BLOCK = re.compile(r"<!-- (props|rules):(\w+) -->\n.*?<!-- /\1:\2 -->", re.DOTALL)
URL = re.compile(r"https://\S+?/([\w.-]+?)(?:\.html)?(#[\w-]+)?(?=[;,\s]|$)")


def construct_classes() -> dict[str, type]:
    """Every class exported by `queue_patterns` (constructs and the rules plugin), by name."""
    sys.path[:0] = [str(ROOT / "constructs")]
    package = importlib.import_module("queue_patterns")
    exported = {name: getattr(package, name) for name in package.__all__}
    return {name: value for name, value in exported.items() if inspect.isclass(value)}


def prop_descriptions(cls: type) -> dict[str, str]:
    doc = inspect.getdoc(cls) or ""
    if "Props:" not in doc:
        return {}
    section = doc.split("Props:", 1)[1]
    found: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"\s+(\w+): (.+)", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
        elif line.strip() and not line.startswith(" "):
            break
    return found


def show_default(value: object) -> str:
    if value is inspect.Parameter.empty:
        return "*required*"
    if hasattr(value, "to_human_string"):  # aws_cdk.Duration
        return value.to_human_string()
    if isinstance(value, enum.Enum):
        return value.name
    if hasattr(value, "postgres_full_version"):  # aws_rds.PostgresEngineVersion
        return f"PostgreSQL {value.postgres_full_version}"
    if hasattr(value, "aurora_postgres_full_version"):  # aws_rds.AuroraPostgresEngineVersion
        return f"Aurora PostgreSQL {value.aurora_postgres_full_version}"
    return repr(value)


def table(cls: type) -> str:
    """The markdown props table of one construct class."""
    descriptions = prop_descriptions(cls)
    rows = ["| prop | type | default | what it does |", "| --- | --- | --- | --- |"]
    for param in list(inspect.signature(cls.__init__).parameters.values())[3:]:
        description = descriptions.get(param.name)
        if description is None:
            raise SystemExit(f"{cls.__name__}.{param.name}: no description in its Props section")
        annotation = str(param.annotation).replace("|", "\\|")
        sources = {
            f.source: f.source_title for f in facts_enforced_by(f"{cls.__name__}.{param.name}")
        }
        if sources:  # the AWS pages its limits come from, as tools/aws_facts.py records them
            description += " AWS: " + ", ".join(f"[{t}]({u})" for u, t in sources.items()) + "."
        rows.append(
            f"| `{param.name}` | `{annotation}` | {show_default(param.default)} | {description} |"
        )
    return "\n".join(rows)


def linked(guidance: str) -> str:
    """Guidance with each URL shown as a link named after its page."""
    return URL.sub(lambda m: f"[{m.group(1)}{m.group(2) or ''}]({m.group(0)})", guidance)


def rules_table(cls: type) -> str:
    """The markdown table of a validation plugin's rules (its module's `RULES`)."""
    rules = importlib.import_module(cls.__module__).RULES
    rows = [
        "| rule | level | what it catches | guidance | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        rows.append(
            f"| {rule.id} | {rule.severity} | {rule.title} | {linked(rule.guidance)} | {rule.fix} |"
        )
    return "\n".join(rows)


def render(text: str, classes: dict[str, type]) -> str:
    def replace(match: re.Match) -> str:
        kind, name = match.groups()
        if name not in classes:
            raise SystemExit(f"{kind} block for unknown class {name!r}")
        body = table(classes[name]) if kind == "props" else rules_table(classes[name])
        return f"<!-- {kind}:{name} -->\n{body}\n<!-- /{kind}:{name} -->"

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if any table is stale")
    options = parser.parse_args()
    classes = construct_classes()
    stale = []
    for path in options.files:
        text = path.read_text()
        updated = render(text, classes)
        if updated != text:
            stale.append(str(path))
            if not options.check:
                path.write_text(updated)
    if options.check and stale:
        print(
            f"stale props tables in {', '.join(stale)}: run python tools/props_tables.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
