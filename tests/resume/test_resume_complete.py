"""The newest complete checkpoint: a newer file cut short or damaged is skipped in one line that
names it, an older complete one is returned."""

from __future__ import annotations

import os

import torch

from e2mc_plugin.resume.complete import checkpoint_problem, newest_complete


def _ckpt(path, value, mtime):
    torch.save({"state_dict": {"w": torch.full((64, 64), float(value))}}, path)
    os.utime(path, (mtime, mtime))
    return path


def test_a_truncated_newest_checkpoint_is_skipped_naming_it(tmp_path):
    old = _ckpt(tmp_path / "run-ep=0.ckpt", 0, 1_000)
    new = _ckpt(tmp_path / "run-ep=1.ckpt", 1, 2_000)
    data = new.read_bytes()
    new.write_bytes(data[: len(data) // 2])
    os.utime(new, (2_000, 2_000))
    lines = []
    assert newest_complete([old, new], report=lines.append) == old
    assert lines == [f"auto_resume: skipping {new}: {checkpoint_problem(new)}"]
    assert "truncated or damaged" in lines[0]


def test_the_newest_wins_when_all_are_complete_and_nothing_is_said(tmp_path):
    old = _ckpt(tmp_path / "a.ckpt", 0, 1_000)
    new = _ckpt(tmp_path / "b.ckpt", 1, 3_000)
    lines = []
    assert newest_complete([new, old], report=lines.append) == new and not lines


def test_empty_text_and_vanished_files_are_skipped(tmp_path):
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "text.ckpt").write_text("hello")
    lines = []
    found = newest_complete(
        [tmp_path / "empty.ckpt", tmp_path / "text.ckpt", tmp_path / "gone.ckpt"],
        report=lines.append,
    )
    assert found is None and len(lines) == 2
    assert all("not a PyTorch checkpoint" in line for line in lines)
