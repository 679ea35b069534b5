"""On-call: rotations, schedules, overrides and temporary schedules; who is on call when
(computed, DST-correct); calendar feeds; and the notices sent when the on-call set changes."""
