"""Train a sentiment RNN checkpoint: ``python -m model.train --lang en|zh`` (``--help`` lists every option).

The recipe (`model/recipes/<lang>.toml`, typed by `model.recipe.TrainConfig`) runs in five stages:

1. `prepare`: read the language's splits; pre-trained vectors (`model.pretrain`); the vocabulary
   (every training token, then pre-trained words by frequency up to the cap); the encoded texts,
   plus the augmented copies the recipe asks for (`model.augment`).
2. `train_members`: ensemble members, each a `SentimentRNN` from its own seed (in parallel
   processes with ``workers``): Adam with a cosine schedule, an exponential moving average of the
   weights, dev accuracy checked ``evals_per_epoch`` times per epoch; each keeps its best-dev state.
3. `calibrate`: one temperature per number of members served, fitted on dev.
4. `model.document.fit_documents`: how sentence answers combine into a document's (`model.document`),
   fitted on labelled documents (IMDB's training reviews for English, dev reviews for Chinese).
5. `model.evaluate.score`: dev, test and the evaluation sets, on exactly what is saved.

Seeded and deterministic: the same seed and data give the same weights and metrics.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import random
import shlex
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from model import augment, document, pretrain
from model.checkpoint import Checkpoint, save_checkpoint
from model.corpora import Corpus
from model.data import length_bucketed_batches
from model.encoding import TextEncoder
from model.evaluate import by_members, score
from model.inference import Classifier
from model.languages import language
from model.metrics import fit_temperature
from model.network import ModelConfig, SentimentRNN, pad_batch
from model.recipe import TrainConfig, output_path, parse_args
from model.scale import FIVE
from model.tokenizer import PAD, PAD_ID, UNK, UNK_ID, Aliases, Vocab

Labelled = list[tuple[list[int], int]]  # (token ids, label) per text


@dataclass
class Prepared:
    """What the members train on (stage 1's output)."""

    corpus: Corpus
    vocab: Vocab
    encoder: TextEncoder  # with that vocabulary
    config: ModelConfig
    tables: dict[str, Tensor]  # initial embedding tables and the bigram keys
    train: Labelled
    dev: Labelled


def build_vocab(cfg: TrainConfig, train_tokens: list[list[str]], *pretrained: pretrain.WordVectors | None) -> Vocab:
    """Training tokens by frequency (min_freq, or any with a vector), then each pre-trained set's
    words by their frequency, up to the cap."""
    counts = Counter(t for toks in train_tokens for t in toks if t not in (PAD, UNK))
    known = set(pretrained[0].words) if pretrained and pretrained[0] is not None else set()
    itos = [
        PAD,
        UNK,
        *sorted((t for t, c in counts.items() if c >= cfg.min_freq or t in known), key=lambda t: (-counts[t], t)),
    ]
    have = set(itos)
    if cfg.compositions and cfg.lang == "en":  # the construction rules' own words, however rare in training
        itos += sorted(augment.TEMPLATE_WORDS - have)
        have |= augment.TEMPLATE_WORDS
    for vectors in pretrained:
        if vectors is not None and (not cfg.vocab_size or len(itos) < cfg.vocab_size):
            new = [w for w in vectors.words if w not in have]
            itos += new
            have.update(new)
    return Vocab(itos[: cfg.vocab_size] if cfg.vocab_size else itos)


def build_bigrams(cfg: TrainConfig, vocab: Vocab, train_ids: list[list[int]]) -> Tensor:
    """Sorted keys (prev_id * V + id) of the left bigrams seen at least ``bigram_min_freq`` times."""
    counts = Counter(p * len(vocab) + c for ids in train_ids for p, c in zip([PAD_ID, *ids[:-1]], ids, strict=True))
    return torch.tensor(sorted(k for k, n in counts.items() if n >= cfg.bigram_min_freq), dtype=torch.long)


def bigram_string(key: int, vocab: Vocab) -> str:
    """The text form word2vec was trained on: "<s>" + first token, else the two tokens joined."""
    prev, cur = divmod(key, len(vocab))
    return ("<s>" if prev == PAD_ID else vocab.itos[prev]) + vocab.itos[cur]


def prepare(cfg: TrainConfig, corpus: Corpus | None = None) -> Prepared:
    """Stage 1: data, vectors, vocabulary, network config and encoded texts. ``corpus`` replaces the
    language's data files (tests train on a handful of texts)."""
    lang = language(cfg.lang)
    if corpus is None:
        corpus = lang.load_corpus(
            Path(cfg.data_dir), corpus_name=cfg.corpus, dry_run=cfg.dry_run, pretraining=cfg.vectors != "none"
        )
    if cfg.compositions and cfg.lang == "zh":  # composed from whole reviews' clauses, as text
        least = 1 if cfg.dry_run else augment.CLAUSE_MIN_COUNT
        made = augment.composed_zh(corpus.train, cfg.compositions, cfg.seed, least)
        corpus = replace(corpus, train=corpus.train + made)
    encoder = TextEncoder(lang.tokenize, cfg.max_length)
    train_tokens = [encoder.tokens(ex.text) for ex in corpus.train]
    vectors, bigram_vectors = pretrain.pretrained(cfg, corpus, lang.tokenize, train_tokens)
    general = pretrain.general_vectors(cfg.general_vectors)
    vocab = build_vocab(cfg, train_tokens, vectors, general)
    if cfg.aliases and general is not None:  # the recipe's validation requires general vectors
        vocab = vocab.with_aliases(Aliases.of(pretrain.nearest_words(vocab.itos, general, cfg.aliases)))
        print(f"aliases: {len(vocab.aliases or ())} words outside the vocabulary", file=sys.stderr)
    encoder = encoder.with_vocab(vocab)
    train_ids = [vocab.encode(t) for t in train_tokens]
    keys = build_bigrams(cfg, vocab, train_ids) if cfg.bigram_min_freq else torch.zeros(0, dtype=torch.long)
    config = ModelConfig(
        vocab_size=len(vocab),
        embedding_dim=cfg.embedding_dim + pretrain.GENERAL_DIMS[cfg.general_vectors],
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        num_labels=len(corpus.labels),
        pooling=cfg.pooling,
        dropout=cfg.dropout,
        embedding_dropout=cfg.embedding_dropout,
        bigram_vocab_size=keys.numel() + 2 if cfg.bigram_min_freq else 0,
    )
    tables: dict[str, Tensor] = {}
    if vectors is not None:
        tables["embedding.weight"], found = pretrain.joint_table(vocab.itos, vectors, general)
        print(f"vocabulary {len(vocab)}: {found} pre-trained vectors", file=sys.stderr)
    if cfg.bigram_min_freq:
        tables["bigram_keys"] = keys
        if bigram_vectors is not None:
            names = [PAD, UNK, *(bigram_string(int(k), vocab) for k in keys)]
            tables["bigram_embedding.weight"], _ = pretrain.embedding_table(names, bigram_vectors)
    labelled = list(zip(train_ids, [ex.label for ex in corpus.train], strict=True))
    phrases = list(labelled)
    if cfg.negations:
        labelled += augment.negated(phrases, cfg.negations, vocab, cfg.seed, corpus.labels)
    if cfg.compositions and cfg.lang == "en":  # composed from the treebank's phrases, as token ids
        if corpus.labels != FIVE:
            raise ValueError("compositions are built from five-point phrases (corpus sst-treebank)")
        labelled += augment.composed(phrases, cfg.compositions, vocab, cfg.seed, neutral_share=cfg.composed_neutral)
    dev = list(zip(encoder.ids(ex.text for ex in corpus.dev), [ex.label for ex in corpus.dev], strict=True))
    return Prepared(corpus, vocab, encoder, config, tables, labelled, dev)


def word_dropout(ids: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Replace real tokens by UNK with probability ``p``: robustness to unseen words at serving."""
    if p <= 0:
        return ids
    drop = (torch.rand(ids.shape, generator=generator) < p) & (ids != PAD_ID)
    return ids.masked_fill(drop, UNK_ID)


def fgm_step(model: SentimentRNN, tables: list[Tensor], ids: Tensor, lens: Tensor, labels: Tensor, eps: float) -> None:
    """FGM (Miyato et al. 2017): move each embedding table eps along its normalised gradient,
    add the gradient of the loss there, move back."""
    moves = []
    for table in tables:
        grad = table.grad
        norm = grad.norm() if grad is not None else None
        if grad is not None and norm is not None and norm > 0 and torch.isfinite(norm):
            move = eps * grad / norm
            table.data.add_(move)
            moves.append((table, move))
    F.cross_entropy(model(ids, lens).logits, labels).backward()  # type: ignore[no-untyped-call]
    for table, move in moves:
        table.data.sub_(move)


def evaluate_logits(model: SentimentRNN, data: Labelled) -> Tensor:
    """The network's logits on encoded texts, in length-sorted batches, in input order."""
    model.eval()
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    logits = torch.empty(len(data), model.config.num_labels)
    with torch.inference_mode():
        for start in range(0, len(order), 256):
            idx = order[start : start + 256]
            logits[idx] = model(*pad_batch([data[i][0] for i in idx])).logits
    return logits


@dataclass
class MemberJob:
    cfg: TrainConfig
    seed: int
    config: ModelConfig
    tables: dict[str, Tensor]
    train: Labelled
    dev: Labelled
    position: int  # of its progress bar


class MemberTraining:
    """One ensemble member's run: `step` per batch, `check` on dev; keeps the best-dev state."""

    def __init__(self, job: MemberJob) -> None:
        cfg = self.cfg = job.cfg
        self.job = job
        torch.set_num_threads(cfg.threads)
        torch.use_deterministic_algorithms(True)
        random.seed(job.seed)
        torch.manual_seed(job.seed)
        model = self.model = SentimentRNN(job.config)
        with torch.no_grad():
            for name, value in job.tables.items():
                target = model.get_buffer(name) if name == "bigram_keys" else model.get_parameter(name)
                target.copy_(value)
        self.tables = [model.embedding.weight] + ([model.bigram_embedding.weight] if model.bigram_embedding else [])
        for table in self.tables:
            table.requires_grad_(not cfg.freeze_embeddings)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr)
        total = math.ceil(len(job.train) / cfg.batch_size) * cfg.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
        )
        # The weight average covers trained parameters only: frozen tables must stay bit-identical
        # across members so that the checkpoint stores them once.
        trained = {name for name, p in model.named_parameters() if p.requires_grad}
        self.average = (
            {k: v.detach().clone() for k, v in model.state_dict().items() if k in trained} if cfg.ema > 0 else None
        )
        self.rng = random.Random(job.seed)
        self.generator = torch.Generator().manual_seed(job.seed)
        self.dev_labels = torch.tensor([y for _, y in job.dev])
        self.history: list[dict[str, float]] = []
        self.best_acc, self.best_state = -1.0, model.state_dict()

    def step(self, batch: list[int]) -> tuple[float, int]:
        """One optimizer step on the texts ``batch``; returns (summed loss, correct)."""
        cfg, model, data = self.cfg, self.model, self.job.train
        ids, lens = pad_batch([data[i][0] for i in batch])
        ids = word_dropout(ids, cfg.word_dropout, self.generator)
        labels = torch.tensor([data[i][1] for i in batch])
        logits = model(ids, lens).logits
        loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        if cfg.fgm > 0:
            fgm_step(model, self.tables, ids, lens, labels, cfg.fgm)
        nn.utils.clip_grad_norm_(self.params, cfg.clip)
        self.optimizer.step()
        self.scheduler.step()
        with torch.no_grad():
            for table in self.tables:
                table[PAD_ID].zero_()
            if self.average is not None:
                for k, v in model.state_dict().items():
                    if k in self.average:
                        self.average[k].mul_(cfg.ema).add_(v, alpha=1 - cfg.ema)
        return loss.item() * len(batch), int((logits.argmax(-1) == labels).sum())

    def check(self, record: dict[str, float]) -> None:
        """Dev accuracy of the averaged (or live) weights; remembered when it is the best so far."""
        model = self.model
        live = {k: v.clone() for k, v in model.state_dict().items()} if self.average is not None else None
        if self.average is not None:
            model.load_state_dict(self.average, strict=False)
        dev_acc = float((evaluate_logits(model, self.job.dev).argmax(-1) == self.dev_labels).float().mean())
        self.history.append({**record, "dev_accuracy": dev_acc})
        if dev_acc > self.best_acc:
            self.best_acc, self.best_state = dev_acc, {k: v.detach().clone() for k, v in model.state_dict().items()}
        if live is not None:
            model.load_state_dict(live)
        model.train()

    def run(self) -> tuple[dict[str, Tensor], list[dict[str, float]]]:
        cfg, train = self.cfg, self.job.train
        bar = tqdm(
            total=cfg.epochs * len(train),
            desc=f"member seed {self.job.seed}",
            unit="ex",
            file=sys.stderr,
            position=self.job.position,
            disable=None,
            leave=False,
        )
        lengths = [len(s) for s, _ in train]
        for epoch in range(cfg.epochs):
            batches = list(length_bucketed_batches(lengths, cfg.batch_size, self.rng))
            checks = {round(len(batches) * k / cfg.evals_per_epoch) for k in range(1, cfg.evals_per_epoch + 1)}
            seen = total_loss = correct = 0.0
            self.model.train()
            for step, batch in enumerate(batches, 1):
                loss, right = self.step(batch)
                seen, total_loss, correct = seen + len(batch), total_loss + loss, correct + right
                bar.update(len(batch))
                bar.set_postfix(
                    loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}", best=f"{self.best_acc:.4f}"
                )
                if step in checks:
                    position = {"epoch": epoch + step / len(batches), "train_loss": total_loss / seen}
                    self.check({**position, "train_accuracy": correct / seen})
        bar.close()
        tqdm.write(f"member seed {self.job.seed}: best dev {self.best_acc:.4f}", file=sys.stderr)
        return self.best_state, self.history


def train_member(job: MemberJob) -> tuple[dict[str, Tensor], list[dict[str, float]]]:
    """Train one ensemble member; return its best-dev state (EMA weights if enabled) and history."""
    return MemberTraining(job).run()


def train_members(cfg: TrainConfig, prep: Prepared) -> list[tuple[dict[str, Tensor], list[dict[str, float]]]]:
    """Stage 2: every member, in parallel processes when ``workers`` > 1 (the same weights either way)."""
    jobs = [
        MemberJob(cfg, cfg.seed + i, prep.config, prep.tables, prep.train, prep.dev, i % cfg.workers)
        for i in range(cfg.members)
    ]
    if cfg.workers > 1 and cfg.members > 1:
        with ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(train_member, jobs))
    return [train_member(job) for job in jobs]


def calibrate(ckpt: Checkpoint, dev: Labelled) -> None:
    """Stage 3: the temperature fitted on dev for the first k members alone, for every k."""
    dev_ids, dev_labels = [ids for ids, _ in dev], [y for _, y in dev]
    for k in range(1, len(ckpt.members) + 1):
        sub = replace(ckpt, members=ckpt.members[:k], temperature=1.0)
        ckpt.member_temperatures.append(fit_temperature(Classifier(sub).predict_logits(dev_ids), dev_labels))
    ckpt.temperature = ckpt.member_temperatures[-1]


def train(cfg: TrainConfig, corpus: Corpus | None = None) -> tuple[Checkpoint, dict[str, Any]]:
    """Run the whole recipe; return the checkpoint and the metrics record."""
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    prep = prepare(cfg, corpus)
    results = train_members(cfg, prep)
    lang = language(cfg.lang)
    ckpt = Checkpoint(
        prep.config,
        [state for state, _ in results],
        prep.vocab,
        prep.corpus.labels,
        language=cfg.lang,
        tokenizer=lang.tokenizer_info,
        max_length=cfg.max_length,
    )
    calibrate(ckpt, prep.dev)
    if corpus is None:  # documents come from the data files too
        document.fit_documents(ckpt, Path(cfg.data_dir), limit=50 if cfg.dry_run else None)
    ckpt.metrics = {"by_members": by_members(ckpt, prep.corpus), **score(ckpt, prep.corpus)}
    ckpt.training = {
        **ckpt.training,
        "config": cfg.model_dump(),
        "data_files": prep.corpus.checksums,
        "history": [history for _, history in results],
        "member_dev_accuracy": [max(h["dev_accuracy"] for h in history) for _, history in results],
        "train_examples": len(prep.train),
        "seconds": round(time.perf_counter() - started, 1),
        "torch_version": str(torch.__version__),
    }
    return ckpt, {"metrics": ckpt.metrics, "training": ckpt.training}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_args(argv)
    try:
        out = output_path(cfg)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    cfg.out = str(out)
    ckpt, record = train(cfg)
    ckpt.training["command"] = shlex.join(["python", "-m", "model.train", *argv])
    sha = save_checkpoint(ckpt, out)
    Path(f"{out}.sha256").write_text(f"{sha}  {out.name}\n")
    record["checkpoint"] = {"path": str(out), "sha256": sha}
    metrics_path = out.with_suffix(".metrics.json")
    metrics_path.write_text(json.dumps(record, indent=2) + "\n")
    m = ckpt.metrics
    print(
        f"wrote {out} (sha256 {sha[:12]}) and {metrics_path}; dev acc {m['dev']['accuracy']:.4f}, "
        f"test acc {m['test']['accuracy']:.4f}, test ECE {m['test']['ece']:.4f}, {ckpt.training['seconds']} s"
    )


if __name__ == "__main__":
    main()
