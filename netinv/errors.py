"""Project exceptions: each carries a message that names the bad thing and the fix.

The fix is said in the core's own terms (its config fields, its functions, its inputs):
the core is used without the pipeline, so a message never names a pipeline file or
command. Keyword-only facts on the exception let the layer that feeds the core (the
stages) say where that field or file comes from there.
"""

from __future__ import annotations


class NetinvError(Exception):
    """Base for errors the user can act on.

    field: the core config field or input the fix concerns ("lr", "root", "name", "device").
    config: the core config type that owns `field` ("InversionConfig"), where several have
        a field of that name; None for a plain argument or a dataset's root/name.
    rebuild: the file or folder the message names is the output of an earlier step (a
        trained model, prepared data, a saved detector) that is missing or unreadable;
        producing it again is the fix.
    """

    def __init__(self, *args: object, field: str | None = None, config: str | None = None,
                 rebuild: bool = False) -> None:
        super().__init__(*args)
        self.field = field
        self.config = config
        self.rebuild = rebuild


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


class ConfigError(NetinvError, ValueError):
    """A setting that cannot work as given: an unknown name, a device this machine lacks,
    a value the data cannot satisfy. `field` names the setting."""


__all__ = [
    "ConfigError", "DatasetError", "ExportParityError", "ModelFileError", "NetinvError", "TrainingDivergedError",
]
