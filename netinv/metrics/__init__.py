"""Metrics: classification now; inversion quality, OOD and leakage live beside it."""
