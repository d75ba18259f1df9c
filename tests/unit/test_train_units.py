"""Training on the synthetic corpus: deterministic, ensembles calibrated per size, scored by model.evaluate."""

from __future__ import annotations

from pathlib import Path

import torch

from model.pretrain import WordVectors, nearest_words, pretrained
from model.recipe import TrainConfig
from model.tokenizer import PAD, UNK, tokenize
from model.train import train, word_dropout
from tests import synthetic

CFG = TrainConfig(seed=3, epochs=1, members=2, embedding_dim=8, hidden_size=6, batch_size=32)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, rec_a = train(CFG, corpus=synthetic.corpus())
    b, rec_b = train(CFG, corpus=synthetic.corpus())
    c, _ = train(CFG.override(seed=4), corpus=synthetic.corpus())
    assert rec_a["metrics"] == rec_b["metrics"]
    for k, v in a.members[0].items():
        assert torch.equal(v, b.members[0][k]), k
    assert not torch.equal(a.members[0]["head.weight"], c.members[0]["head.weight"])


def test_record_has_the_stages_results() -> None:
    ckpt, record = train(CFG, corpus=synthetic.corpus())
    assert len(ckpt.member_temperatures) == 2  # one temperature per number of members served
    assert ckpt.temperature == ckpt.member_temperatures[-1]
    assert [r["members"] for r in record["metrics"]["by_members"]] == [1, 2]
    assert record["metrics"]["test"]["n"] == len(synthetic.corpus().test)
    assert record["training"]["config"] == CFG.model_dump()
    assert record["training"]["train_examples"] == len(synthetic.corpus().train)
    assert [len(h) for h in record["training"]["history"]] == [1, 1]


def test_word_dropout_replaces_only_real_tokens() -> None:
    ids = torch.tensor([[5, 6, 7, 0, 0]] * 200)
    out = word_dropout(ids, 0.5, torch.Generator().manual_seed(0))
    assert (out[:, 3:] == 0).all()
    dropped = (out[:, :3] == 1).float().mean().item()
    assert 0.4 < dropped < 0.6
    assert torch.equal(word_dropout(ids, 0.0, torch.Generator()), ids)


def test_nearest_words_pick_the_closest_vocabulary_word_by_cosine() -> None:
    """Hand-placed vectors: each outside word points almost where one inside word does; the
    special tokens are never a target, and only the most frequent outside words get one."""
    words = ["good", "great", "bad", "awful", "modem", "router", "<unk>", "rare"]
    vectors = torch.tensor(
        [[1.0, 0.1, 0.0], [0.9, 0.2, 0.0], [-1.0, 0.0, 0.1], [-2.0, 0.1, 0.1],
         [0.0, 0.0, 1.0], [0.1, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    )  # fmt: skip
    itos = [PAD, UNK, "good", "bad", "modem"]
    pairs = nearest_words(itos, WordVectors(words, vectors), most_frequent=6)
    assert pairs == [("great", 2), ("awful", 3), ("router", 4)]


def test_cached_vectors_are_keyed_by_the_texts_as_tokenized(tmp_path: Path) -> None:
    """A tokenizer that reads the same files differently must not get the vectors cached for the
    old reading: the files' checksums alone would not tell them apart."""
    corpus = synthetic.corpus("en")
    corpus.pretraining = corpus.train
    cfg = CFG.override(vectors="word2vec", w2v_epochs=1, w2v_min_count=1, cache_dir=str(tmp_path))
    train_tokens = [tokenize(ex.text) for ex in corpus.train]
    first, _ = pretrained(cfg, corpus, tokenize, train_tokens)
    again, _ = pretrained(cfg, corpus, tokenize, train_tokens)
    assert first is not None
    assert again is not None
    assert len(list(tmp_path.iterdir())) == 1  # the second call read the cache
    assert torch.equal(first.vectors, again.vectors)

    def shouted(text: str) -> list[str]:
        return [t.upper() for t in tokenize(text)]

    other, _ = pretrained(cfg, corpus, shouted, train_tokens)
    assert other is not None
    assert len(list(tmp_path.iterdir())) == 2  # a new entry, not the first one's vectors
    assert "GOOD" in other.words
    assert "GOOD" not in first.words
