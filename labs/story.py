"""How a lab talks to the learner: numbered steps, tables, live progress, and where moto differs.

Every lab prints through one `Story`, so the labs read alike and a test can capture what a
learner would see (`Story(Console(file=io.StringIO(), width=120))`). Rich draws the progress
bars and tables on a terminal; on a pipe or in a test the bars stay silent and the tables print
as plain text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


@dataclass
class Story:
    """The narration of one lab run."""

    console: Console = field(default_factory=Console)
    step_number: int = 0

    def step(self, text: str) -> None:
        """A numbered step: what the lab does next."""
        self.step_number += 1
        self.console.print(f"\n[bold]{self.step_number}. {text}[/bold]")

    def say(self, text: str) -> None:
        self.console.print(f"   {text}", highlight=False)

    def notice(self, text: str) -> None:
        """What the learner should look at in what just happened."""
        self.console.print(f"   [green]→ {text}[/green]", highlight=False)

    def moto(self, text: str) -> None:
        """Where the local engine differs from AWS, and what the lab does about it."""
        self.console.print(f"   [yellow]moto ≠ AWS:[/yellow] {text}", highlight=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        self.console.print(table)

    def panel(self, text: str, title: str) -> None:
        self.console.print(Panel(text, title=title, title_align="left", expand=False))

    @contextlib.contextmanager
    def progress(self) -> Iterator[Progress]:
        """Live bars while something runs (silent when the console is not a terminal)."""
        with Progress(
            TextColumn("   {task.description:<34}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self.console.is_terminal,
        ) as bars:
            yield bars
