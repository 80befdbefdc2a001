"""Training-data reconstruction and its honest measurement (docs/method.md, "Training-data reconstruction";
the measurement: docs/evaluation.md, "Reconstruction").

`objective`: the loss terms; `reconstruct`: fitting a conditioned generator to them;
`subsets`: class-balanced training subsets and held-out controls; `target`: the small
classifiers trained on them; `matching`: reconstructions against the training set and the
control, Hungarian recovery, the leakage gap, with `similarity` (SSIM / PSNR of all pairs)
and `significance` (its bootstrap interval and permutation test); `study`: one target per
subset size, reconstructed and matched.
"""
