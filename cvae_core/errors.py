"""Errors that carry a message meant for a person, not a traceback.

A message may be a template with named fields: `ImageError(N_("The file is {mb:.1f} MB."), mb=3.2)`. str(error)
is the English sentence (the CLI prints it); the app translates the template and then fills in the fields
(ui.i18n.error_text), so a visitor reads the whole sentence in their language."""


class CVAEError(Exception):
    """Base class: the CLI and the app show the message and nothing else."""

    def __init__(self, message: str = "", **fields):
        super().__init__(message.format(**fields) if fields else message)
        self.template, self.fields = message, fields


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
