"""Dataset loaders returning uint8 N×C×H×W images and int64 labels, validated at load time."""

from netinv.data.errors import DatasetError
from netinv.data.registry import DATASETS, load_dataset
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import to_nchw_uint8, validate_images

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetSplits",
    "ImageDataset",
    "load_dataset",
    "to_nchw_uint8",
    "validate_images",
]
