"""`./run lab`: list the labs; `./run lab <name> [options]`: run one.

Each lab is one entry in `labs.registry.LABS`. A lab module's `command` becomes the
sub-command (its typer options are the settings the learner can change); a `passthrough` entry
hands the remaining arguments to an argparse `main(argv)` as they are (the burst and fan-out
labs, and any tool that grows into a lab). An entry whose `requires` module does not exist is
not listed, so a lab can be registered before the code it plays has landed.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.table import Table

from labs.registry import LABS
from labs.teaching import Lab, play


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def available(labs: Sequence[Lab] = LABS) -> list[Lab]:
    """The labs whose code is here."""
    return [lab for lab in labs if lab.requires is None or module_exists(lab.requires)]


def listing(labs: Sequence[Lab], console: Console) -> None:
    table = Table(title="Study labs: ./run lab <name> [--quiz] [options]", title_justify="left")
    table.add_column("lab", no_wrap=True)
    table.add_column("what it shows")
    table.add_column("exams", no_wrap=True)
    table.add_column("deployed stack", no_wrap=True)
    for lab in labs:
        table.add_row(lab.name, lab.title, " ".join(lab.exams), lab.stack or "")
    console.print(table)
    console.print(
        "Exams: DVA Developer, SAA Solutions Architect, SOA SysOps/CloudOps (Associate). "
        "Deployed stack: the lab also takes --stack-outputs outputs.json. "
        "`./run lab <name> --help` lists a lab's settings; docs/labs.md maps the labs to the "
        "exam guides and the seeds.",
        highlight=False,
    )


@dataclass(frozen=True)
class ExitCode:
    ok: bool
    headline: str = ""


def add_passthrough(app: typer.Typer, lab: Lab) -> None:
    module_name, function_name = lab.module.split(":")

    @app.command(
        name=lab.name,
        help=f"{lab.title}. Other options go to `python -m {module_name} --help`.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def command(
        ctx: typer.Context,
        quiz: bool = typer.Option(False, "--quiz", help="Answer the questions before the run."),
    ) -> None:
        main = getattr(importlib.import_module(module_name), function_name)

        def experiment(story, engines):
            return ExitCode(ok=main(list(ctx.args)) in (0, None))

        raise typer.Exit(play(lab, experiment, quiz=quiz))


def build_app(labs: Sequence[Lab] = LABS) -> typer.Typer:
    app = typer.Typer(
        add_completion=False,
        help="Study labs: one command per exam topic, played on local engines.",
        rich_markup_mode=None,
    )
    shown = available(labs)

    @app.callback(invoke_without_command=True)
    def main(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            listing(shown, Console(highlight=False))

    for lab in shown:
        if lab.passthrough:
            add_passthrough(app, lab)
        else:
            module = importlib.import_module(lab.module)
            app.command(name=lab.name, help=lab.title)(module.command)
    return app


def run(argv: Sequence[str] | None = None) -> None:
    build_app()(args=list(argv) if argv is not None else None, prog_name="./run lab")
