"""`python -m model.evaluate`: the metrics it prints and the model card it writes, on a tiny real ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.checkpoint import load_checkpoint, save_checkpoint
from model.data import sha256_file
from model.document import main as document_main
from model.evaluate import corpus_of, main, score, seed_spread
from model.train import train
from tests.conftest import LEAN_IMDB_REVIEWS, dev_test, tiny_config


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory, lean_data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("ens") / "ens.pt"
    ckpt, _ = train(tiny_config(lean_data_dir, out).override(members=3, epochs=1))
    save_checkpoint(ckpt, out)
    return out


def test_seed_spread_covers_every_subset_and_agrees_with_the_ensemble(ensemble: Path, data_dir: Path) -> None:
    ckpt = load_checkpoint(ensemble)
    rows = {r["members"]: r for r in seed_spread(ckpt, data_dir, sizes=(1, 2, 3, 4))}
    assert sorted(rows) == [1, 2, 3]  # no row for more members than the checkpoint has
    assert [rows[k]["subsets"] for k in (1, 2, 3)] == [3, 3, 1]
    for split in ("dev", "test"):
        for row in rows.values():
            s = row[split]
            assert s["min"] <= s["first"] <= s["max"]
            assert s["min"] <= s["mean"] <= s["max"]
            assert s["sd"] <= s["max"] - s["min"]
        # One subset of all members: the ensemble itself (the temperature does not move an argmax).
        whole = rows[3][split]
        assert whole["sd"] == 0.0
        assert whole["first"] == pytest.approx(dev_test(ckpt, data_dir)[split]["accuracy"])
        assert rows[1][split]["first"] == pytest.approx(dev_test(ckpt.subset(1), data_dir)[split]["accuracy"])


def test_cli_prints_metrics_and_writes_the_card(
    ensemble: Path, lean_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "CARD.md"
    main(["--checkpoint", str(ensemble), "--data-dir", str(lean_data_dir), "--card", str(card), "--no-baselines"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["test"]["n"] == 2210  # the treebank test sentences
    assert printed["imdb-test"]["n"] == 2 * LEAN_IMDB_REVIEWS  # the lean copy's test reviews, both labels
    assert [r["members"] for r in printed["seed_spread"]] == [1, 2, 3]
    text = card.read_text()
    assert "### Seed spread" in text
    one = printed["seed_spread"][0]["dev"]
    assert f"{100 * one['mean']:.2f}% ± {100 * one['sd']:.2f}" in text
    assert (tmp_path / "ens-training.png").stat().st_size > 1000


def test_rescoring_keeps_the_fit_and_stores_what_the_file_does(
    ensemble: Path, lean_data_dir: Path, tmp_path: Path
) -> None:
    """`python -m model.document --rescore-only`, run after a change to how texts are read."""
    path = tmp_path / "copy.pt"
    before = load_checkpoint(ensemble)
    before.metrics = {}
    save_checkpoint(before, path)
    document_main([str(path), "--data-dir", str(lean_data_dir), "--rescore-only"])
    after = load_checkpoint(path)
    assert after.document == before.document
    corpus = corpus_of(after, lean_data_dir)
    corpus.extra = {}
    assert after.metrics["dev"] == score(after, corpus)["dev"]
    assert after.training["command"].endswith("python -m model.document copy.pt --rescore-only")
    assert (tmp_path / "copy.pt.sha256").read_text().split()[0] == sha256_file(path)
    assert json.loads((tmp_path / "copy.metrics.json").read_text())["metrics"]["test"]["n"] == 2210
