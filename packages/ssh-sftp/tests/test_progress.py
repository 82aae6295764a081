"""The progress bar sftp-py draws: text from (done, total, now), no clock inside."""

from __future__ import annotations

from ssh_sftp.progress import ProgressBar, format_eta, format_size


def test_sizes_read_like_ls_h() -> None:
    assert format_size(0) == "0 B"
    assert format_size(1023) == "1023 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(3 * 1024**3) == "3.0 GiB"


def test_eta_is_minutes_and_seconds_then_hours() -> None:
    assert format_eta(0) == "00:00"
    assert format_eta(61.4) == "01:01"
    assert format_eta(3 * 3600 + 5) == "3:00:05"
    assert format_eta(-1) == "--:--"
    assert format_eta(float("nan")) == "--:--"


def test_a_short_transfer_draws_nothing_at_all() -> None:
    bar = ProgressBar("f", start=100.0, delay=0.5)
    assert bar.update(50, 100, 100.2) is None
    assert bar.update(100, 100, 100.4) is None
    assert bar.finish(100.4) == ""


def test_a_long_transfer_redraws_in_place_at_most_every_interval() -> None:
    bar = ProgressBar("data.bin", start=0.0, width=80, delay=0.5, interval=0.1)
    first = bar.update(1024 * 1024, 4 * 1024 * 1024, 1.0)
    assert first is not None and first.startswith("\rdata.bin [")
    assert " 25% " in first and "1.0 MiB" in first and "1.0 MiB/s" in first
    assert "00:03" in first  # 3 MiB left at 1 MiB/s
    assert len(first) - 1 == 79  # fits the terminal, one column to spare
    assert bar.update(2 * 1024 * 1024, 4 * 1024 * 1024, 1.05) is None  # too soon
    done = bar.finish(2.0)
    assert done.startswith("\r") and done.endswith("\n")
    assert " 50% " in done  # the last state reported


def test_the_bar_fills_with_the_transfer_and_long_names_are_cut_from_the_left() -> None:
    bar = ProgressBar("x" * 200 + "tail.bin", start=0.0, width=80, delay=0.0, interval=0.0)
    line = bar.update(10, 10, 1.0)
    assert line is not None and len(line) - 1 == 79
    assert "tail.bin [" in line and line[1:4] == "..."
    inside = line[line.index("[") + 1 : line.index("]")]
    assert len(inside) >= 10 and set(inside) == {"#"}
    assert " 100% " in line


def test_an_empty_file_counts_as_complete() -> None:
    bar = ProgressBar("empty", start=0.0, delay=0.0, interval=0.0)
    line = bar.update(0, 0, 1.0)
    assert line is not None and " 100% " in line
