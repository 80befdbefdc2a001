"""Production audits of an image classifier as library code: the engine, the probes, the report.

`python -m stages.audit` (the stage) and `pipeline.audit` (the Prefect flows) both call the
same functions: `audit.engine.prepare` (data, judge, device, the model under audit) then
`audit.engine.run` (invert, validate, probe, compare, report, log), the flow as one task per
step. Modules: `config` (the `audit` section of params.yaml), `model` (the model under audit:
registry, ONNX, .pt), `inversion` (invert it, validate the samples), `probes` (OOD, leakage;
the registry of further probes), `outcome` (metrics, the previous audit, the verdict, the
report, the MLflow run), `engine` (prepare / run), `report` (the HTML rendering library, also
used by the pipeline's `report` stage).

Layering, checked by tests/unit/test_layers.py: this package may import the core (`netinv`),
the params schema (`stages.config`, `stages.schema`) and the MLflow helpers (`stages.tracking`,
for the audit's own run and the registry); never another stage (`stages.<stage>`), never
`pipeline`. This file imports nothing, so that `stages.config` can import `audit.config`
without a cycle; import the entry points from `audit.engine`.
"""
