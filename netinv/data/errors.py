"""The single exception type for unusable datasets (defined with the project's other errors)."""

from netinv.errors import DatasetError

__all__ = ["DatasetError"]
