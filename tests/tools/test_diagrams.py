"""The generated diagram pages are what the templates say, and show what matters on each edge."""

from __future__ import annotations

import pytest
from infra_support import PROFILE_NAMES

from tools.diagrams import DOCS, README, DataPath, render_all, render_blocks
from tools.template_reader import Assembly


@pytest.fixture(scope="module")
def assemblies(synthesized_app):
    return {
        profile: Assembly.from_directory(synthesized_app(profile).assembly.directory)
        for profile in PROFILE_NAMES
    }


def test_every_page_matches_the_synthesized_templates(assemblies):
    pages = render_all(assemblies)
    stale = [p.name for p, text in pages.items() if not p.exists() or p.read_text() != text]
    assert stale == [], f"regenerate with ./run diagrams: {stale}"
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted(p.name for p in pages)


def test_the_readme_embeds_the_write_buffer_diagram_as_synthesized(assemblies):
    text = README.read_text()
    assert "<!-- diagram:WriteBuffer:production -->" in text
    assert render_blocks(text, assemblies) == text, "regenerate with ./run diagrams"


def test_write_buffer_path_carries_its_settings(assemblies):
    chart = DataPath.of(assemblies["production"].stacks["WriteBuffer"]).mermaid()
    assert "SendMessage (AWS integration, no Lambda)" in chart
    assert "after 5 receives" in chart and "visibility 1 min" in chart
    assert "at most 500 writes/s per instance" in chart
    assert "age of oldest (Maximum) ≥ 10 min, 2 of 3 x 1 min" in chart
    assert "INSERT batches, TLS, port 5432" in chart


def test_fan_out_edges_show_filters_delivery_and_batching(assemblies):
    chart = DataPath.of(assemblies["sandbox"].stacks["OrderFanOut"]).mermaid()
    assert "shippable = true; raw delivery" in chart
    assert '|"SNS envelope"|' in chart  # audit keeps the envelope
    assert "batch 10, window 1 s, max concurrency 30, partial batch failures" in chart
    assert "undeliverable" in chart
