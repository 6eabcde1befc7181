"""The README's main command plays the write-buffer pattern end to end and checks itself."""

from __future__ import annotations

import pytest

from labs.burst_lab import main

pytestmark = pytest.mark.engines


def test_burst_lab_writes_every_order_once_and_dead_letters_the_poison(capsys):
    assert main(["--orders", "40", "--workers", "2", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "rejected with 400             4" in out
    assert "lost / written twice          0 / 0" in out
    assert "OK: every order written exactly once" in out


def test_burst_lab_rejects_a_non_positive_count(capsys):
    with pytest.raises(SystemExit):
        main(["--workers", "0"])
    assert "--workers: must be 1 or more" in capsys.readouterr().err
