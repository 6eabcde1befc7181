"""`./run lab` lists the labs, plays one, asks and scores its questions, and lists a lab only
when the code it plays exists."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from labs import docs as labs_docs
from labs import teaching
from labs.cli import available, build_app
from labs.registry import LABS, lab

ROOT = Path(__file__).resolve().parents[2]


def test_the_lab_command_lists_at_least_ten_labs():
    result = CliRunner().invoke(build_app(), [], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = [entry.name for entry in available() if re.search(rf"\b{entry.name}\b", result.output)]
    assert len(listed) >= 10
    assert {
        "visibility",
        "dead-letter",
        "polling",
        "fifo",
        "fan-out",
        "lambda-batch",
        "delay",
        "large-payload",
        "why-queue",
        "write-buffer",
        "order-fan-out",
    } <= set(listed)


def test_a_lab_is_listed_only_when_the_module_it_plays_exists():
    scaling = lab("scaling")
    assert scaling.requires == "tools.scaling_sim"
    present = replace(scaling, name="present", requires="tools.redrive")
    missing = replace(scaling, name="missing", requires="tools.no_such_simulator")
    no_package = replace(scaling, name="no-package", requires="no_such_package.module")
    assert [entry.name for entry in available([present, missing, no_package])] == ["present"]
    shown = (ROOT / "tools" / "scaling_sim.py").exists()
    assert ("scaling" in [entry.name for entry in available()]) is shown


def test_every_lab_has_three_answerable_questions_and_sourced_exam_points():
    for entry in LABS:
        assert len(entry.questions) == 3, entry.name
        for question in entry.questions:
            assert 0 <= question.answer < len(question.choices), (entry.name, question.prompt)
        assert entry.exam_points and entry.notice and entry.exams, entry.name
        for point in entry.exam_points:
            assert point.source.startswith(
                ("https://docs.aws.amazon.com/", "https://aws.amazon.com/")
            ), (entry.name, point.source)


def test_docs_map_every_lab_to_its_exams_and_seeds():
    docs = (ROOT / "docs" / "labs.md").read_text()
    for entry in LABS:
        assert f"| `{entry.name}`" in docs, entry.name  # the exam-domain table
        assert f"### `{entry.name}`" in docs, entry.name  # its generated section


def test_the_lab_sections_in_the_docs_match_the_registry(capsys):
    assert labs_docs.main(["--check", str(ROOT / "docs" / "labs.md")]) == 0, capsys.readouterr()


def test_quiz_mode_asks_before_the_run_and_scores_after(monkeypatch):
    entry = lab("delay")
    replies = iter(["x", "b", "a", "b"])  # one invalid reply, then b, a, b
    monkeypatch.setattr(teaching.typer, "prompt", lambda *args, **kwargs: next(replies))
    order = []

    class Ran:
        headline = "the experiment ran"

    def experiment(story, engines):
        order.append("ran")
        return Ran()

    console = Console(file=io.StringIO(), width=120)
    assert teaching.play(entry, experiment, quiz=True, console=console) == 0
    out = console.file.getvalue()
    assert order == ["ran"]
    assert out.index("Q3.") < out.index("What to notice") < out.index("Answers")
    assert "one of a, b, c, d, please" in out
    assert "score: 2 / 3" in out  # b and b are right, a is not
    assert "the experiment ran" in out


@pytest.mark.engines
def test_a_lab_runs_from_the_command_line_with_its_settings(monkeypatch, engines):
    monkeypatch.setattr(teaching, "Engines", lambda: engines)
    result = CliRunner().invoke(
        build_app(), ["dead-letter", "--max-receives", "2"], env={"COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    assert "maxReceiveCount 2" in result.output
    assert "received 2 times" in result.output  # the headline, from this run
    assert "Answers" in result.output


def test_a_setting_outside_its_range_is_refused_before_anything_runs():
    result = CliRunner().invoke(build_app(), ["lambda-batch", "--max-concurrency", "1"])
    assert result.exit_code == 2
    assert "max-concurrency" in result.output
