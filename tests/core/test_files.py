"""Config and secret files: read only when private to their owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskd.core.files import FileRefused, read_private_text
from tests.kit.files import write_private


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_file_only_its_owner_may_read_or_write_is_read(tmp_path: Path, mode: int) -> None:
    path = write_private(tmp_path / "riskd.toml", "name = 'x'\n")
    path.chmod(mode)

    assert read_private_text(path) == "name = 'x'\n"


@pytest.mark.parametrize(
    ("mode", "exposure"),
    [
        (0o644, "readable"),
        (0o640, "readable"),
        (0o604, "readable"),
        (0o440, "readable"),
        (0o666, "readable"),
        (0o620, "writable"),
        (0o602, "writable"),
    ],
)
def test_a_file_open_to_group_or_others_is_refused_with_the_fix(
    tmp_path: Path, mode: int, exposure: str
) -> None:
    path = write_private(tmp_path / "riskd.toml", "name = 'x'\n")
    path.chmod(mode)

    with pytest.raises(FileRefused) as refused:
        read_private_text(path)

    assert str(refused.value) == (
        f"{path} is {exposure} by group or others (mode {mode:04o}): chmod 600 {path}"
    )


def test_the_mode_checked_is_the_files_a_symlink_names(tmp_path: Path) -> None:
    target = write_private(tmp_path / "secret", "s3cr3t")
    target.chmod(0o644)
    link = tmp_path / "link"
    link.symlink_to(target)

    with pytest.raises(FileRefused, match=r"link is readable by group or others \(mode 0644\)"):
        read_private_text(link)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileRefused) as refused:
        read_private_text(tmp_path / "absent")

    assert str(refused.value) == f"cannot read {tmp_path / 'absent'}: No such file or directory"


def test_a_file_not_in_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_private(tmp_path / "latin1", "")
    path.write_bytes(b"caf\xe9")

    with pytest.raises(FileRefused) as refused:
        read_private_text(path)

    assert str(refused.value) == f"cannot read {path}: not UTF-8 text"


def test_the_refusal_never_shows_the_files_text(tmp_path: Path) -> None:
    path = write_private(tmp_path / "api.secret", "s3cr3t-value")
    path.chmod(0o644)

    with pytest.raises(FileRefused) as refused:
        read_private_text(path)

    assert "s3cr3t" not in str(refused.value)
