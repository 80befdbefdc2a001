"""Training-data reconstruction and its honest measurement (method.md §4).

`objective`: the loss terms; `reconstruct`: fitting a conditioned generator to them;
`subsets`: class-balanced training subsets and held-out controls; `matching`: SSIM / PSNR
to the training set against the control, Hungarian recovery, the bootstrap leakage gap.
"""
