"""What every lab run has around its experiment: the set-up, the questions, the exam points.

`play` frames a lab: it says what the lab sets up and which setting the learner can change,
asks the three questions (before the run with `--quiz`, so the learner commits to an answer),
runs the experiment, then says what to notice, the exam points with the AWS page each comes
from, and the answers with their reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich.console import Console

from labs.engines import Engines
from labs.story import Story

LETTERS = "abcd"


@dataclass(frozen=True)
class Question:
    """A multiple-choice question whose answer the lab's run makes visible."""

    prompt: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: str


@dataclass(frozen=True)
class ExamPoint:
    """One fact an exam asks about, and the AWS documentation page it comes from."""

    text: str
    source: str


@dataclass(frozen=True)
class Lab:
    """One lab in `./run lab`: its story, and where its code lives.

    `module` names either a lab module whose `command` is a typer command (its options are the
    settings a learner can change), or, with `passthrough`, a `module:function` that takes the
    remaining command-line arguments as a list (the argparse labs and tools). `requires` names
    a module that must exist for the lab to be listed at all.
    """

    name: str
    title: str
    sets_up: str
    change: str
    notice: tuple[str, ...]
    exam_points: tuple[ExamPoint, ...]
    exams: tuple[str, ...]
    seeds: str
    questions: tuple[Question, ...]
    module: str
    passthrough: bool = False
    requires: str | None = None
    stack: str | None = None


def ask(console: Console, number: int, question: Question, *, interactive: bool) -> int | None:
    console.print(f"\n   [bold]Q{number}.[/bold] {question.prompt}", highlight=False)
    for letter, choice in zip(LETTERS, question.choices, strict=False):
        console.print(f"       {letter}) {choice}", highlight=False)
    if not interactive:
        return None
    valid = LETTERS[: len(question.choices)]
    while True:
        reply = typer.prompt(f"   your answer ({'/'.join(valid)})").strip().lower()
        if len(reply) == 1 and reply in valid:
            return valid.index(reply)
        console.print(f"   one of {', '.join(valid)}, please")


def play(
    lab: Lab,
    experiment: Callable[[Story, Engines], object],
    *,
    quiz: bool = False,
    console: Console | None = None,
    engines: Engines | None = None,
) -> int:
    """Frame and run one lab; 0 unless the experiment reports `ok = False`."""
    story = Story(console or Console(highlight=False))
    out = story.console
    out.rule(f"[bold]lab: {lab.name}[/bold] — {lab.title}")
    story.panel(
        f"{lab.sets_up}\n\n[bold]Change it:[/bold] {lab.change}\n"
        f"[bold]Exams:[/bold] {', '.join(lab.exams)}   [bold]Seeds:[/bold] {lab.seeds}",
        title="What this lab sets up",
    )
    out.print(
        "\n[bold]Three questions[/bold] "
        + ("(answer now; the run will show who was right)" if quiz else "(answers at the end)")
    )
    given = [ask(out, n, q, interactive=quiz) for n, q in enumerate(lab.questions, 1)]

    own_engines = engines is None
    engines = engines or Engines()
    try:
        observation = experiment(story, engines)
    finally:
        if own_engines:
            engines.close()

    out.print("\n[bold]What to notice[/bold]")
    headline = getattr(observation, "headline", None)
    if headline:
        story.notice(headline)
    for line in lab.notice:
        out.print(f"   • {line}", highlight=False)
    out.print("\n[bold]Exam points[/bold]")
    for point in lab.exam_points:
        out.print(f"   • {point.text}\n     [dim]{point.source}[/dim]", highlight=False)
    out.print("\n[bold]Answers[/bold]")
    score = 0
    for n, (question, reply) in enumerate(zip(lab.questions, given, strict=True), 1):
        right = reply == question.answer
        score += right
        mark = "" if reply is None else (" [green]✓[/green]" if right else " [red]✗[/red]")
        out.print(
            f"   Q{n}: {LETTERS[question.answer]}) {question.choices[question.answer]}{mark}\n"
            f"       {question.why}",
            highlight=False,
        )
    if quiz:
        out.print(f"\n   [bold]score: {score} / {len(lab.questions)}[/bold]")
    return 0 if getattr(observation, "ok", True) else 1
