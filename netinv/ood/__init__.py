"""Out-of-distribution detection: the inversion garbage-class model (docs/method.md,
"Out-of-distribution detection"), post-hoc baselines through pytorch-ood, OOD sets and the
metrics of docs/evaluation.md, "OOD detection"."""
