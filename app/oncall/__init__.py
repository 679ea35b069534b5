"""On-call: rotations, schedules, overrides, and who is on call when (issue 5)."""
