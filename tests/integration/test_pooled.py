"""`python -m research.pooled`: members of several real checkpoints pooled into one ensemble."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import load_checkpoint, save_checkpoint
from model.train import train
from research.pooled import accuracy, average, greedy, held_out, main, member_logits
from tests.conftest import dev_test, tiny_config


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("pool") / "pair.pt"
    ckpt, _ = train(tiny_config(data_dir, out, seed=11).override(members=2, epochs=1))
    save_checkpoint(ckpt, out)
    return out


def test_each_checkpoint_averages_as_the_service_does(pair: Path, tiny_checkpoint: Path, data_dir: Path) -> None:
    runs, labels = member_logits([pair, tiny_checkpoint], data_dir)
    assert [r.name for r in runs] == ["pair", "tiny"]
    assert [len(r.logits["dev"]) for r in runs] == [2, 1]
    for run, path in zip(runs, (pair, tiny_checkpoint), strict=True):
        metrics = dev_test(load_checkpoint(path), data_dir)  # each text one sequence, as pooled reads them
        for split in ("dev", "test"):
            assert len(run.logits[split][0]) == len(labels[split])
            assert accuracy(average(run.logits[split]), labels[split]) == pytest.approx(metrics[split]["accuracy"])


def test_greedy_selection_starts_from_the_best_member_on_dev(pair: Path, tiny_checkpoint: Path, data_dir: Path) -> None:
    runs, labels = member_logits([pair, tiny_checkpoint], data_dir)
    dev = [m for r in runs for m in r.logits["dev"]]
    steps = greedy(dev, labels["dev"], 4)
    assert len(steps) == 4
    assert steps[0][1] == max(accuracy(m, labels["dev"]) for m in dev)
    assert steps[0][1] == accuracy(dev[steps[0][0]], labels["dev"])
    assert all(0 <= i < 3 for i, _ in steps)
    # Each step's accuracy is that of the running average of the members chosen so far.
    chosen = [i for i, _ in steps]
    assert steps[-1][1] == accuracy(average([dev[i] for i in chosen]), labels["dev"])


def test_held_out_check_scores_the_choice_on_the_other_half(pair: Path, data_dir: Path) -> None:
    runs, labels = member_logits([pair], data_dir)
    dev = runs[0].logits["dev"]
    check = held_out(dev, dev, labels["dev"], steps=3, rounds=4)
    assert 1 <= check["size"] <= 3
    # Both members against the same two: "all" and "first" are one ensemble scored on the same halves.
    assert check["all"] == pytest.approx(check["first"])
    assert 0.0 < check["chosen"] <= 1.0


def test_cli_writes_the_pooled_table(pair: Path, tiny_checkpoint: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "POOLED.md"
    main([str(pair), str(tiny_checkpoint), "--data-dir", str(data_dir), "--steps", "2", "--out", str(out)])
    text = out.read_text()
    assert "**All 3 members as one ensemble**" in text
    assert "| pair | `" in text
    assert "| tiny | `" in text
    assert "| last+max pooling, hidden 12, 1 layer(s) | 1 |" in text  # tiny's network and member count
    assert "| last+max pooling, hidden 12, 1 layer(s) | 2 |" in text  # pair's
    assert "| 2 | " in text  # the second greedy step
    assert "**Does choosing on dev carry over?**" in text


def test_checkpoints_of_two_languages_are_refused(
    tiny_checkpoint: Path, tiny_zh_checkpoint: Path, data_dir: Path
) -> None:
    with pytest.raises(ValueError, match="zh checkpoint"):
        member_logits([tiny_checkpoint, tiny_zh_checkpoint], data_dir)
