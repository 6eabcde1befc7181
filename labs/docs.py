"""Keep docs/labs.md true to the registry: each lab's section is written from its entry.

    python -m labs.docs docs/labs.md            rewrite the generated part
    python -m labs.docs --check docs/labs.md    exit 1 if it differs from the registry

The generated part sits between `<!-- labs:begin -->` and `<!-- labs:end -->`; everything else
in the file is written by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labs.registry import LABS
from labs.teaching import Lab

BEGIN, END = "<!-- labs:begin -->", "<!-- labs:end -->"


def section(lab: Lab) -> str:
    lines = [
        f"### `{lab.name}`: {lab.title}",
        "",
        f"`./run lab {lab.name}`"
        + (
            f" (also `--stack-outputs outputs.json` of a deployed {lab.stack} stack)"
            if lab.stack
            else ""
        )
        + (f"; listed once `{lab.requires}` exists" if lab.requires else ""),
        "",
        lab.sets_up,
        "",
        f"**Change it:** {lab.change}",
        "",
        f"**Exams:** {', '.join(lab.exams)}. **Seeds:** {lab.seeds}.",
        "",
        "**Exam points:**",
        "",
    ]
    for point in lab.exam_points:
        sources = ", ".join(f"<{url.strip()}>" for url in point.source.split(", "))
        lines.append(f"- {point.text} ({sources})")
    lines += ["", "**What to notice:**", ""]
    lines += [f"- {line}" for line in lab.notice]
    lines.append("")
    return "\n".join(lines)


def generated() -> str:
    return "\n".join([BEGIN, "", *(section(lab) for lab in LABS), END])


def render(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + generated() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--check", action="store_true")
    options = parser.parse_args(argv)
    text = options.path.read_text()
    new = render(text)
    if options.check:
        if new != text:
            print(f"{options.path}: out of date; run python -m labs.docs {options.path}")
            return 1
        return 0
    options.path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
