"""Stages: pure functions over a batch's files and the loaded snapshot (no database, no service)."""
