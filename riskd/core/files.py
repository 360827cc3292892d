"""The files riskd reads its config and secrets from: only their owner may read or write them,
as ssh asks of a private key."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

READABLE_BY_OTHERS: Final = stat.S_IRGRP | stat.S_IROTH
OPEN_TO_OTHERS: Final = READABLE_BY_OTHERS | stat.S_IWGRP | stat.S_IWOTH
"""The mode bits that let a file's group or others read or write it (0o066)."""


class FileRefused(Exception):
    """A config or secret file riskd does not read; the message, one line, names the file,
    why, and for a mode open to others the fix."""


def read_private_text(path: Path) -> str:
    """The UTF-8 text of *path*, a file only its owner may read or write (0600, 0400).
    FileRefused if its group or others may, or if it cannot be read. The mode is checked
    on the file opened, so a file swapped in between is not read."""
    try:
        with path.open(encoding="utf-8") as file:
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
            if mode & OPEN_TO_OTHERS:
                exposure = "readable" if mode & READABLE_BY_OTHERS else "writable"
                raise FileRefused(
                    f"{path} is {exposure} by group or others (mode {mode:04o}): chmod 600 {path}"
                )
            return file.read()
    except OSError as exc:
        raise FileRefused(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise FileRefused(f"cannot read {path}: not UTF-8 text") from None
