"""sshd's checks of a ChrootDirectory, as sshd-py makes them (sshd_chroot)."""

from __future__ import annotations

import os
from pathlib import Path

from ssh_connection.sshd_chroot import chroot_problem, start_directory


def test_root_itself_is_a_fine_chroot() -> None:
    assert chroot_problem("/") is None


def test_a_relative_path_is_refused() -> None:
    assert chroot_problem("srv/jail") == 'chroot path does not begin at root: "srv/jail"'


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    jail = tmp_path / "jail"
    jail.mkdir()
    jail.chmod(0o777)
    problem = chroot_problem(str(jail))
    # tmp_path's own parents (/tmp is 1777, or not root's) may be named first: a component
    # on the way is refused either way.
    assert problem is not None and "bad ownership or modes" in problem
    assert str(jail).startswith(problem.split('"')[1])


def test_a_missing_directory_and_a_file_are_refused() -> None:
    assert chroot_problem("/nonexistent-sshd-py-jail") == (
        'stat("/nonexistent-sshd-py-jail"): No such file or directory'
    )
    if os.stat("/etc/hostname").st_uid == 0 and os.path.isfile("/etc/hostname"):
        assert chroot_problem("/etc/hostname") == 'chroot path "/etc/hostname" is not a directory'


def test_a_session_starts_in_the_home_directory_when_the_jail_has_it(tmp_path: Path) -> None:
    (tmp_path / "home" / "al").mkdir(parents=True)
    assert start_directory(str(tmp_path), "/home/al") == "/home/al"
    assert start_directory(str(tmp_path), "/home/bo") == "/"
    assert start_directory(str(tmp_path), "relative") == "/"
