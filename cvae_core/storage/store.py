"""The server's model store: where visitors save models, kept apart from the shipped checkpoints.

A public server is shared by strangers, so saving
- never replaces an existing file, and never takes a shipped model's name;
- is bounded in files and bytes, checked before anything is written;
- can be switched off (then the Train page offers the download alone).
Models saved here come back after a restart marked as saved by a visitor, never as shipped.

Settings (environment variables, read when the app starts):
  CVAE_SAVING          "off" (or 0, false, no) switches saving off; on by default
  CVAE_SAVED_DIR       the folder (default: checkpoints/saved)
  CVAE_SAVED_MAX_FILES how many files it may hold (default 50)
  CVAE_SAVED_MAX_MB    how many megabytes (default 200)
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, CVAEError
from ..text import N_
from . import checkpoint


class StoreError(CVAEError):
    """A model cannot be saved to the server (the sentence says why)."""


@dataclass(frozen=True)
class StoreSettings:
    folder: Path
    enabled: bool = True
    max_files: int = 50
    max_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_environment(cls, default_folder: Path) -> "StoreSettings":
        env = os.environ
        return cls(
            folder=Path(env.get("CVAE_SAVED_DIR") or default_folder),
            enabled=env.get("CVAE_SAVING", "on").strip().lower() not in ("off", "0", "false", "no"),
            max_files=_int(env.get("CVAE_SAVED_MAX_FILES"), 50),
            max_bytes=_int(env.get("CVAE_SAVED_MAX_MB"), 200) * 1024 * 1024,
        )


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


class ModelStore:
    """Visitors' saved models in one folder; the shipped folder's names are reserved."""

    def __init__(self, settings: StoreSettings, shipped_folder: Path):
        self.settings = settings
        self.shipped_folder = Path(shipped_folder)
        self._lock = threading.Lock()  # two sessions saving at once must not both pass the limits

    def reserved_names(self) -> set[str]:
        return {p.stem.lower() for p in self.shipped_folder.glob("*" + checkpoint.SUFFIX)}

    def usage(self) -> tuple[int, int]:
        """Files and bytes the store holds now."""
        files = list(self.settings.folder.glob("*" + checkpoint.SUFFIX)) if self.settings.folder.is_dir() else []
        return len(files), sum(f.stat().st_size for f in files)

    def save(self, model, name: str, metadata: dict) -> Path:
        """Save under a new name, or raise StoreError with the reason."""
        if not self.settings.enabled:
            raise StoreError(N_("Saving to this server is switched off here; download the checkpoint instead."))
        try:
            file_name = checkpoint.checkpoint_name(name)
        except CheckpointError as e:
            raise StoreError(N_("Not a usable name: {reason}."), reason=e) from None  # the app translates e too
        stem = file_name[: -len(checkpoint.SUFFIX)]
        if stem.lower() in self.reserved_names():
            raise StoreError(N_("“{name}” is the name of a model that ships with the app; choose another name."), name=stem)
        data = checkpoint.to_bytes(model, {**metadata, "saved_by": "visitor"})
        with self._lock:
            files, used = self.usage()
            if files + 1 > self.settings.max_files:
                raise StoreError(
                    N_("The server already holds {n_files} saved models, its limit; download the checkpoint instead."), n_files=files
                )
            if used + len(data) > self.settings.max_bytes:
                raise StoreError(N_("The server's space for saved models is full; download the checkpoint instead."))
            try:
                return checkpoint.write_bytes(data, self.settings.folder / file_name, overwrite=False)
            except CheckpointError as e:
                if e.template == checkpoint.ALREADY_EXISTS:
                    raise StoreError(
                        N_("A model named “{name}” is already saved on this server; choose another name."), name=stem
                    ) from None
                raise StoreError(N_("Could not save: {reason}."), reason=e) from None

    def load(self) -> tuple[dict, dict]:
        """Saved models by name, and the files refused with the reason."""
        if not self.settings.folder.is_dir():
            return {}, {}
        return checkpoint.load_folder(self.settings.folder)
