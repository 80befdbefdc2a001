"""Out-of-distribution detection: the inversion garbage-class model (method.md §3), post-hoc
baselines through pytorch-ood, OOD sets and the metrics of evaluation.md."""
