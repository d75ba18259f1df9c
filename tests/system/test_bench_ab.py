"""`make ab` compares two commits' services: each server must run its own tree's code, or the
comparison measures this checkout twice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.ab import imported_from, worktree
from bench.harness import ROOT


def test_a_worktree_of_another_commit_serves_its_own_code(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    commit = worktree("HEAD", tree)
    try:
        assert len(commit) == 40
        assert imported_from(tree).strip() == str(tree / "model" / "fastpath.py")
        assert imported_from(ROOT).strip() == str(ROOT / "model" / "fastpath.py")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)


def test_an_unknown_commit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        worktree("no-such-revision", tmp_path / "tree")
    assert not (tmp_path / "tree").exists()
