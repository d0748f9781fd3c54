"""Errors that carry a message meant for a person, not a traceback."""


class CVAEError(Exception):
    """Base class: the CLI and the app show str(error) and nothing else."""


class ConfigError(CVAEError):
    """A setting is out of range or unknown."""


class DatasetError(CVAEError):
    """A data set is unknown, missing, or cannot be downloaded."""


class CheckpointError(CVAEError):
    """A checkpoint file is not one this project wrote, or does not fit its metadata."""


class TrainingError(CVAEError):
    """Training cannot go on (for example the loss became NaN)."""


class ImageError(CVAEError):
    """An uploaded or drawn picture cannot be used."""
