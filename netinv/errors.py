"""Project exceptions: each carries a message that names the bad thing and the fix."""



class NetinvError(Exception):
    """Base for errors the user can act on."""


class DatasetError(NetinvError, ValueError):
    """A dataset that cannot be loaded as-is; the message names the file or folder and the fix.

    Subclassing ValueError lets generic callers treat a bad dataset like any other bad input.
    """


class ModelFileError(NetinvError, ValueError):
    """A model file is missing, is not what it claims, or carries code."""


class TrainingDivergedError(NetinvError, RuntimeError):
    """A loss turned NaN or infinite; the message names the step and what to change."""


class ExportParityError(NetinvError, RuntimeError):
    """The exported model disagrees with PyTorch beyond the configured thresholds."""


__all__ = ["DatasetError", "ExportParityError", "ModelFileError", "NetinvError", "TrainingDivergedError"]
