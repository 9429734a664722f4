"""Helpers of the subject-line use case: candidates, constraints, style, ranking."""
