"""Train the sentiment RNN and write the checkpoint: ``python -m model.train --data-dir DIR``.

Seeded and deterministic: one seed drives ``random``, torch and the data order, so the same seed
and data give the same metrics. Early stopping keeps the epoch with the best dev accuracy; the
test split is scored once, at the end, for the record only.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from model import corpora
from model.checkpoint import Checkpoint, save_checkpoint
from model.data import default_data_dir, length_bucketed_batches
from model.inference import Classifier
from model.metrics import fit_temperature, report
from model.network import ModelConfig, SentimentRNN, pad_batch
from model.tokenizer import PAD_ID, UNK_ID, Vocab


@dataclass
class TrainConfig:
    """Every knob of a training run; stored in the checkpoint so the run can be repeated."""

    lang: str = "en"
    data_dir: str = ""
    out: str = ""
    seed: int = 13
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    clip: float = 5.0
    patience: int = 3
    embedding_dim: int = 300
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    pooling: str = "last+max"
    dropout: float = 0.5
    word_dropout: float = 0.1
    min_freq: int = 1
    max_length: int = 256
    threads: int = 1
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def word_dropout(ids: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Replace real tokens by UNK with probability ``p``: robustness to unseen words at serving."""
    if p <= 0:
        return ids
    drop = (torch.rand(ids.shape, generator=generator) < p) & (ids != PAD_ID)
    return ids.masked_fill(drop, UNK_ID)


def run_epoch(
    model: SentimentRNN,
    data: list[tuple[list[int], int]],
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    rng: random.Random,
    generator: torch.Generator,
    progress: tqdm[Any],
) -> tuple[float, float]:
    """One pass over the training data; returns mean loss and accuracy."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    total_loss = correct = seen = 0.0
    for batch in length_bucketed_batches([len(s) for s, _ in data], cfg.batch_size, rng):
        ids, lengths = pad_batch([data[i][0] for i in batch])
        labels = torch.tensor([data[i][1] for i in batch])
        logits = model(word_dropout(ids, cfg.word_dropout, generator), lengths).logits
        loss = loss_fn(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        total_loss += loss.item() * len(batch)
        correct += float((logits.argmax(-1) == labels).sum())
        seen += len(batch)
        progress.update(len(batch))
        progress.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
    return total_loss / seen, correct / seen


def train(cfg: TrainConfig) -> tuple[Checkpoint, dict[str, Any]]:
    """Train one model per the config; return the checkpoint and the metrics record."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    set_seed(cfg.seed)
    started = time.perf_counter()
    corpus = corpora.load(cfg.lang, Path(cfg.data_dir), dry_run=cfg.dry_run)
    tokenize = corpus.tokenize
    train_tokens = [tokenize(ex.text)[: cfg.max_length] for ex in corpus.train]
    vocab = Vocab.build(train_tokens, min_freq=cfg.min_freq)
    train_data = [(ids, ex.label) for ids, ex in zip(map(vocab.encode, train_tokens), corpus.train, strict=True)]
    dev_ids = [vocab.encode(tokenize(ex.text)[: cfg.max_length]) for ex in corpus.dev]

    config = ModelConfig(
        vocab_size=len(vocab),
        embedding_dim=cfg.embedding_dim,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        bidirectional=cfg.bidirectional,
        num_labels=2,
        pooling=cfg.pooling,  # type: ignore[arg-type]
        dropout=cfg.dropout,
    )
    model = SentimentRNN(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = random.Random(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    ckpt = Checkpoint(
        config,
        [model.state_dict()],
        vocab,
        corpus.labels,
        language=cfg.lang,
        tokenizer=corpus.tokenizer_info,
        max_length=cfg.max_length,
    )
    history: list[dict[str, float]] = []
    best_dev, best_state, bad_epochs = -1.0, model.state_dict(), 0
    for epoch in range(1, cfg.epochs + 1):
        with tqdm(
            total=len(train_data), desc=f"epoch {epoch}/{cfg.epochs}", unit="ex", file=sys.stderr, disable=None
        ) as bar:
            loss, acc = run_epoch(model, train_data, optimizer, cfg, rng, generator, bar)
        model.eval()
        ckpt.members = [model.state_dict()]
        dev_acc = report(
            Classifier(ckpt).predict_proba(dev_ids),
            [ex.label for ex in corpus.dev],
            [len(s) for s in dev_ids],
            corpus.labels,
        )["accuracy"]
        history.append({"epoch": epoch, "train_loss": loss, "train_accuracy": acc, "dev_accuracy": dev_acc})
        tqdm.write(f"epoch {epoch}: loss {loss:.4f} train acc {acc:.4f} dev acc {dev_acc:.4f}", file=sys.stderr)
        if dev_acc > best_dev:
            best_dev, bad_epochs = dev_acc, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break

    ckpt.members = [best_state]
    classifier = Classifier(ckpt)
    ckpt.temperature = fit_temperature(classifier.predict_logits(dev_ids), [ex.label for ex in corpus.dev])
    classifier = Classifier(ckpt)
    metrics: dict[str, Any] = {}
    for split, examples in (("dev", corpus.dev), ("test", corpus.test)):
        ids = [vocab.encode(tokenize(ex.text)[: cfg.max_length]) for ex in examples]
        metrics[split] = report(
            classifier.predict_proba(ids), [ex.label for ex in examples], [len(s) for s in ids], corpus.labels
        )
    ckpt.metrics = metrics
    ckpt.training = {
        "config": asdict(cfg),
        "data_files": corpus.checksums,
        "history": history,
        "best_epoch": max(history, key=lambda h: h["dev_accuracy"])["epoch"],
        "seconds": round(time.perf_counter() - started, 1),
        "torch_version": str(torch.__version__),
    }
    return ckpt, {"metrics": metrics, "training": ckpt.training}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--lang", choices=corpora.LANGUAGES, default=d.lang)
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--out", default="", help="checkpoint path (default: model/artifacts/<lang model>.pt)")
    for name in (
        "seed",
        "epochs",
        "batch_size",
        "patience",
        "embedding_dim",
        "hidden_size",
        "num_layers",
        "min_freq",
        "max_length",
        "threads",
    ):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("lr", "clip", "dropout", "word_dropout"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=d.bidirectional)
    p.add_argument("--pooling", choices=("last", "max", "last+max"), default=d.pooling)
    p.add_argument("--dry-run", action="store_true", help="seconds-long smoke run on a data subset")
    args = p.parse_args(argv)
    cfg = TrainConfig(**dict(vars(args).items()))
    if not cfg.out:
        cfg.out = str(corpora.default_checkpoint(cfg.lang))
    return cfg


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_args(argv)
    ckpt, record = train(cfg)
    ckpt.training["command"] = shlex.join(["python", "-m", "model.train", *argv])
    sha = save_checkpoint(ckpt, cfg.out)
    record["checkpoint"] = {"path": cfg.out, "sha256": sha}
    metrics_path = Path(cfg.out).with_suffix(".metrics.json")
    metrics_path.write_text(json.dumps(record, indent=2) + "\n")
    m = ckpt.metrics
    print(
        f"wrote {cfg.out} (sha256 {sha[:12]}) and {metrics_path}; "
        f"dev acc {m['dev']['accuracy']:.4f}, test acc {m['test']['accuracy']:.4f}, "
        f"test ECE {m['test']['ece']:.4f}"
    )


if __name__ == "__main__":
    main()
