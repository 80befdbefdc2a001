"""The single exception type for unusable datasets.

Subclassing ValueError lets generic callers treat a bad dataset like any other bad input,
while the pipeline can catch exactly this type and show its message to the user unchanged.
"""


class DatasetError(ValueError):
    """A dataset that cannot be loaded as-is; the message names the file or folder and the fix."""
