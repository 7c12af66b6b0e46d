"""The worked example of docs/extending-the-model.md runs as written: an observable effect, a capability with its
twin, a mitigation gating it, an invariant; the invariant is proved, and removing the mitigation yields the new
counterexample, confirmed by Z3. The model's registries are restored afterwards."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import properties.invariants
from model.step import OBSERVABLES
from model.symbolic import ENCODERS
from model.transitions import REGISTRY

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "extending-the-model.md"


def python_blocks(text: str) -> list[str]:
    """The guide's Python code blocks, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture
def pristine_model() -> Iterator[None]:
    """Whatever the guide registers is gone afterwards."""
    registry, encoders, observables = dict(REGISTRY), dict(ENCODERS), dict(OBSERVABLES)
    invariants = properties.invariants.INVARIANTS
    yield
    REGISTRY.clear()
    REGISTRY.update(registry)
    ENCODERS.clear()
    ENCODERS.update(encoders)
    OBSERVABLES.clear()
    OBSERVABLES.update(observables)
    properties.invariants.INVARIANTS = invariants
    sys.modules.pop("extending_guide", None)


@pytest.mark.usefixtures("pristine_model")
@pytest.mark.threat("A2-T-1", "A2-D-1", "M-3")
def test_the_guide_runs_and_finds_the_new_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = python_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    module = types.ModuleType("extending_guide")
    sys.modules["extending_guide"] = module
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), module.__dict__)
    printed = capsys.readouterr().out
    assert "attack TamperResponse" in printed and "<== breaks responses-authentic" in printed
    assert "capabilities used: TamperResponse; confirmed by Z3" in printed
    assert "TamperResponse" in {op.__name__ for op in REGISTRY}


def test_the_guide_leaves_the_shipped_model_alone() -> None:
    assert "TamperResponse" not in {op.__name__ for op in REGISTRY}
    assert "responses-authentic" not in {inv.id for inv in properties.invariants.INVARIANTS}
