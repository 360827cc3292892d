"""Thin Ray shells around riskd's jobs: one file per job. They schedule, budget and wire;
the decisions live in ``riskd/``."""
