"""Prefect flows: the training pipeline (DVC stages + promotion gate) and production audits.

`pipeline.training.training_pipeline`, `pipeline.audit.audit_production`, deployments in
`pipeline.deploy`; `python -m pipeline --help` for the command line.
"""
