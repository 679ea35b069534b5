"""A policy in words (app.escalation.sentences) and when its steps fire for the preview
(app.escalation.preview.firing_plan, which walks the engine's own advance)."""

from __future__ import annotations

from typing import Any

from app.escalation import preview, sentences
from app.escalation.policy_snapshot import Policy, Step, Target


def text(parts: sentences.Sentence) -> str:
    return "".join(f"*{t}*" if bold else t for t, bold in parts)


def step(delay: int, *targets: tuple[str, str]) -> dict[str, Any]:
    return {
        "delay_minutes": delay,
        "targets": [{"type": kind, "id": name, "name": name} for kind, name in targets],
    }


def test_a_step_reads_as_a_sentence_naming_people_schedules_rotations_and_channels() -> None:
    steps = [
        step(5, ("user", "Ada Lovelace")),
        step(10, ("user", "Ada Lovelace"), ("schedule", "Primary"), ("channel", "#ops")),
        step(1, ("rotation", "Nights"), ("schedule", "Backup"), ("user", "Bo"), ("user", "Cy")),
        step(1, ("channel", "#ops"), ("channel", "#dev")),
    ]
    said = [text(s) for s in sentences.policy_sentences(steps)]
    assert said == [
        "Immediately, notify *Ada Lovelace*",
        "After 5 minutes, notify *Ada Lovelace* and whoever is on call in *Primary*, "
        "and post to *#ops*",
        "After 15 minutes, notify *Bo* and *Cy* and whoever is on call in *Backup* and "
        "whoever is on call in rotation *Nights*",
        "After 16 minutes, post to *#ops* and *#dev*",
    ]
    assert sentences.minutes(1) == "1 minute"


def test_the_repeat_sentence_follows_the_engine_rule() -> None:
    steps = [step(5, ("user", "A")), step(7, ("user", "B"))]
    assert "nothing more" in sentences.repeat_sentence(steps, 0)
    assert sentences.repeat_sentence(steps, 1) == (
        "7 minutes after the last step, it starts again from step 1, once more."
    )
    assert "3 more times" in sentences.repeat_sentence(steps, 3)
    assert "pages nobody" in sentences.repeat_sentence([], 2)


def test_the_firing_plan_counts_delays_and_repeats_as_the_engine_does() -> None:
    a, b = Target("user", "a"), Target("user", "b")
    policy = Policy("p", 2, (Step(5, (a,)), Step(10, (b,))))
    assert preview.firing_plan(policy) == [
        (0, 0, 0), (5, 1, 0), (15, 0, 1), (20, 1, 1), (30, 0, 2), (35, 1, 2),
    ]  # fmt: skip
    assert preview.firing_plan(Policy("p", 0, (Step(3, (a,)),))) == [(0, 0, 0)]
    assert preview.firing_plan(Policy("p", 5, ())) == []
