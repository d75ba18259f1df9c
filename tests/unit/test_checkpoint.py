"""One checkpoint file: round trip, weights_only loading, one clear error for every bad file."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from model.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from model.data import sha256_file
from model.document import Aggregation
from model.inference import Classifier
from model.tokenizer import Aliases, Vocab


def test_round_trip_gives_identical_logits(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    copy = tmp_path / "copy.pt"
    sha = save_checkpoint(ckpt, copy)
    assert sha == sha256_file(copy)
    again = load_checkpoint(copy)
    seqs = [[2, 3, 4], [5, 6], [7]]
    torch.testing.assert_close(
        Classifier(ckpt).forward_ids(seqs).logits, Classifier(again).forward_ids(seqs).logits, rtol=0, atol=0
    )
    assert again.vocab.itos == ckpt.vocab.itos
    assert again.model_config == ckpt.model_config
    assert again.labels == ("negative", "positive")


def test_loading_builds_networks_without_the_meta_device_machinery(tiny_checkpoint: Path) -> None:
    """Initialising an embedding on the meta device imports ~800 modules (sympy among them): it
    cost the service 0.5 s of start-up and ~100 MB of peak memory, for networks whose weights are
    replaced at once. Building them on the CPU is cheaper; this keeps it that way."""
    code = (
        "import sys; from model.checkpoint import load_checkpoint; "
        f"c = load_checkpoint({str(tiny_checkpoint)!r}); c.build_models(); "
        "print('sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_checkpoint_holds_everything_needed_to_serve(tiny_checkpoint: Path) -> None:
    raw = torch.load(tiny_checkpoint, weights_only=True)
    assert raw["format_version"] == 2
    assert isinstance(raw["vocab"], str)  # one string: a list of tokens is slow to unpickle
    assert {
        "model_config",
        "members",
        "vocab",
        "labels",
        "tokenizer",
        "training",
        "metrics",
        "temperature",
        "max_length",
    } <= set(raw)
    assert raw["training"]["data_files"] == {"synthetic": "en"}  # what training read (the data files' SHA-256)
    assert raw["training"]["config"]["seed"] == 7
    assert {"dev", "test"} <= set(raw["metrics"])


def test_a_version_1_file_with_its_vocabulary_as_a_list_still_loads(tiny_checkpoint: Path, tmp_path: Path) -> None:
    raw = torch.load(tiny_checkpoint, weights_only=True)
    raw.update(format_version=1, vocab=raw["vocab"].split("\n"))
    old = tmp_path / "v1.pt"
    torch.save(raw, old)
    assert load_checkpoint(old).vocab.itos == load_checkpoint(tiny_checkpoint).vocab.itos


def test_a_token_holding_a_newline_is_refused_when_saving(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    bad = replace(ckpt, vocab=Vocab((*ckpt.vocab.itos, "two\nlines")))
    with pytest.raises(ValueError, match="newline"):
        save_checkpoint(bad, tmp_path / "bad.pt")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)


def test_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    """weights_only=True: a file that would run code (a pickled module) is refused, not loaded."""
    bad = tmp_path / "module.pt"
    torch.save({"format_version": 1, "model": torch.nn.Linear(2, 2)}, bad)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)


def _truncate(raw: dict[str, Any], key: str) -> None:
    """Drop a row of a tensor wherever the file keeps it (a member, or the members' shared tables)."""
    for state in [raw.get("shared", {}), *raw["members"]]:
        if key in state:
            state[key] = state[key][:-1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=99), "format version 99"),
        (lambda d: d.pop("vocab"), "lacks vocab"),
        (lambda d: d.update(tokenizer={"name": "sst-ptb", "version": 42}), "version 42"),
        (lambda d: d.update(vocab="\n".join(d["vocab"].split("\n")[:-3])), "does not match"),
        (lambda d: d.update(vocab=d["vocab"].split("\n")), "one string of newline-separated tokens"),
        (lambda d: d.update(format_version=1), "version 1 vocabulary must be a list"),
        (lambda d: d["members"][0].pop("head.weight"), "head.weight"),
        (lambda d: d.update(members=[]), "no model weights"),
        (lambda d: d.update(document={"strength": [0.0, 1.0, 2.0]}), "per-label document weight"),
        (lambda d: d.update(aliases={"keys": torch.tensor([7]), "ids": torch.tensor([10**6])}), "outside the vocab"),
        (lambda d: d.update(aliases={"keys": [7], "ids": [2]}), "aliases must hold"),
        (lambda d: _truncate(d, "embedding.weight"), r"embedding.weight has shape \(\d+, \d+\), the model config"),
        (lambda d: _truncate(d, "head.weight"), "size mismatch for head.weight"),
        (lambda d: _truncate(d, "rnn.weight_hh_l0"), "size mismatch for rnn.weight_hh_l0"),
    ],
)
def test_incompatible_contents(tiny_checkpoint: Path, tmp_path: Path, change: object, message: str) -> None:
    raw = torch.load(tiny_checkpoint, weights_only=True)
    change(raw)  # type: ignore[operator]
    bad = tmp_path / "bad.pt"
    torch.save(raw, bad)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)


def test_not_a_dict(tmp_path: Path) -> None:
    bad = tmp_path / "list.pt"
    torch.save([1, 2, 3], bad)
    with pytest.raises(CheckpointError, match="dictionary"):
        load_checkpoint(bad)


def test_save_is_atomic(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt: Checkpoint = load_checkpoint(tiny_checkpoint)
    out = tmp_path / "sub" / "model.pt"
    save_checkpoint(ckpt, out)
    assert out.is_file()
    assert not out.with_suffix(".pt.tmp").exists()
    assert zipfile.is_zipfile(out)


def test_ensemble_stores_shared_tables_once_in_half_precision(tiny_zh_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_zh_checkpoint)
    assert len(ckpt.members) == 2
    raw = torch.load(tiny_zh_checkpoint, weights_only=True)
    assert set(raw["shared"]) == {"bigram_keys"}  # trained tables differ per member
    assert raw["members"][0]["embedding.weight"].dtype == torch.float16
    assert raw["members"][0]["rnn.weight_hh_l0"].dtype == torch.float32
    # Frozen tables equal in every member are stored once.
    frozen = Checkpoint(
        ckpt.model_config,
        [dict(m) for m in ckpt.members],
        ckpt.vocab,
        ckpt.labels,
        language="zh",
        tokenizer=ckpt.tokenizer,
    )
    frozen.members[1]["embedding.weight"] = frozen.members[0]["embedding.weight"].clone()
    out = tmp_path / "frozen.pt"
    save_checkpoint(frozen, out)
    assert "embedding.weight" in torch.load(out, weights_only=True)["shared"]
    again = load_checkpoint(out)
    seqs = [[2, 3, 4, 5], [6], [7, 8]]
    torch.testing.assert_close(
        Classifier(again).forward_ids(seqs).logits, Classifier(frozen).forward_ids(seqs).logits, rtol=0, atol=0
    )


def test_a_per_label_document_combination_survives_the_round_trip(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    how = Aggregation(last=0.5, shift=0.25, salience=(1.0, 2.0), strength=(0.5, 0.0))
    ckpt.document = how.to_dict()
    save_checkpoint(ckpt, tmp_path / "doc.pt")
    assert Aggregation.from_dict(load_checkpoint(tmp_path / "doc.pt").document) == how


def test_a_combination_without_per_label_weights_is_stored_and_read_back(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)  # a two-label model: its fit has no per-label weights
    how = Aggregation(polarity=0.5, last=0.25, shift=-0.1)
    ckpt.document = how.to_dict()
    assert set(ckpt.document) == {"polarity", "last", "shift"}
    save_checkpoint(ckpt, tmp_path / "doc.pt")
    assert Aggregation.from_dict(load_checkpoint(tmp_path / "doc.pt").document) == how


def test_aliases_survive_the_round_trip(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    assert ckpt.vocab.aliases is None
    word = ckpt.vocab.itos[5]
    aliased = replace(ckpt, vocab=ckpt.vocab.with_aliases(Aliases.of([("zzz-outside", 5)])))
    save_checkpoint(aliased, tmp_path / "aliases.pt")
    back = load_checkpoint(tmp_path / "aliases.pt").vocab
    assert back.encode(["zzz-outside", word, "zzz-other"]) == [5, 5, 1]
