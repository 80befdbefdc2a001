"""Generated samples shown beside real ones: the tiles land where a reader expects them."""

import numpy as np

from netinv.visual import beside_real, class_overview, grid_image


def test_each_row_is_generated_then_a_separator_then_real_images():
    generated = np.full((10, 1, 4, 4), 255, dtype=np.uint8)
    real = np.arange(5, dtype=np.uint8)[:, None, None, None].repeat(4, 2).repeat(4, 3)[:, :, :, :].reshape(5, 1, 4, 4)
    tiles = beside_real(generated, real, per_row=4, real_per_row=2)
    assert tiles.shape == (3 * (4 + 1 + 2), 1, 4, 4)  # 10 generated -> 3 rows, the last padded
    row = tiles[:7]
    assert (row[:4] == 255).all() and (row[4] == 128).all()
    assert [int(t[0, 0, 0]) for t in row[5:]] == [0, 1]
    assert [int(t[0, 0, 0]) for t in tiles[12:14]] == [2, 3]  # the next row shows other real images
    assert (tiles[7 * 2 + 2 : 7 * 2 + 4] == 128).all()  # padding of the short last row
    assert grid_image(tiles, nrow=7, scale=1).size[0] == 7 * 4 + 8 * 2


def test_overview_with_real_images_draws_every_class():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 1, 8, 8), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 10)
    fig = class_overview(images, labels, ["a", "b", "c"], per_class=5, real_images=images, real_labels=labels)
    assert len(fig.axes) == 3 and all(ax.images for ax in fig.axes)
