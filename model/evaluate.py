"""Measure a checkpoint and write its model card: ``python -m model.evaluate``.

Accuracy, per-class precision/recall/F1, confusion matrix, accuracy by length, expected
calibration error, and the forward cost per text at batch 1 and 64 — all on the test split of the
checkpoint's language, with the training curve plotted next to the card.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch

from model import document, scale
from model.checkpoint import Checkpoint, load_checkpoint
from model.corpora import Corpus
from model.data import default_data_dir, sha256_file
from model.encoding import TextEncoder
from model.inference import Classifier
from model.languages import LANGUAGES, language
from model.metrics import report


def score(ckpt: Checkpoint, corpus: Corpus, documents: bool = True) -> dict[str, Any]:
    """`model.metrics.report` of ``ckpt`` on dev, test and each evaluation set of ``corpus``, each read
    in its own view of the answer (five-point, three-way or polar: `model.scale`). Texts are read as
    the service reads them (``documents``: every sentence, combined), or each as one sequence."""
    classifier = Classifier(ckpt)
    encoder = TextEncoder.for_checkpoint(ckpt)
    reads = language(ckpt.language).reads
    how = document.Aggregation.from_dict(ckpt.document)
    out: dict[str, Any] = {}
    for split, examples in (("dev", corpus.dev), ("test", corpus.test), *corpus.extra.items()):
        texts = [ex.text for ex in examples]
        if documents:
            per_text = document.read_all(classifier, encoder, texts, ckpt.language, reads)
            probs = torch.stack([document.combine(p, ckpt.labels, how) for p in per_text])
        else:
            probs = classifier.predict_proba(encoder.ids(texts))
        view = corpus.views.get(split, "model")
        labels = [ex.label for ex in examples]
        categories = [ex.category for ex in examples]
        lengths = [len(encoder.tokenize(t)) for t in texts]
        names = scale.labels_of(ckpt.labels, view)
        out[split] = report(scale.view(probs, ckpt.labels, view), labels, lengths, names, categories, texts)
    return out


def by_members(ckpt: Checkpoint, corpus: Corpus) -> list[dict[str, Any]]:
    """Dev and test accuracy (and test ECE) when serving only the first k members, for every k."""
    encoder = TextEncoder.for_checkpoint(ckpt)
    splits = {"dev": corpus.dev, "test": corpus.test}
    ids = {split: encoder.ids(ex.text for ex in examples) for split, examples in splits.items()}
    rows = []
    for k in range(1, len(ckpt.members) + 1):
        sub = ckpt.subset(k)
        m = {
            split: report(
                Classifier(sub).predict_proba(ids[split]),
                [ex.label for ex in examples],
                [len(s) for s in ids[split]],
                ckpt.labels,
            )
            for split, examples in splits.items()
        }
        row = {"members": k, "temperature": sub.temperature, "dev": m["dev"]["accuracy"]}
        rows.append({**row, "test": m["test"]["accuracy"], "test_ece": m["test"]["ece"]})
    return rows


def corpus_of(ckpt: Checkpoint, data_dir: Path) -> Corpus:
    """The splits and evaluation sets of the corpus ``ckpt`` was trained on."""
    record = language(ckpt.language)
    return record.load_corpus(data_dir, corpus_name=record.corpus_of(ckpt.training, ckpt.labels))


def evaluate(ckpt: Checkpoint, data_dir: Path, documents: bool = True) -> dict[str, Any]:
    """Metrics of ``ckpt`` on the dev and test splits and evaluation sets of its corpus (`score`)."""
    return score(ckpt, corpus_of(ckpt, data_dir), documents)


def logits_per_member(ckpt: Checkpoint, ids: dict[str, list[list[int]]]) -> dict[str, list[torch.Tensor]]:
    """Each member's raw logits (no temperature) on each split's encoded texts: the pieces that
    seed spreads and pooled ensembles average in their own ways."""
    logits: dict[str, list[torch.Tensor]] = {split: [] for split in ids}
    for member in ckpt.members:
        classifier = Classifier(replace(ckpt, members=[member], temperature=1.0))
        for split, encoded in ids.items():
            logits[split].append(classifier.predict_logits(encoded))
    return logits


def seed_spread(ckpt: Checkpoint, data_dir: Path, sizes: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, Any]]:
    """Dev and test accuracy of every k-member subset of the ensemble (argmax of summed logits).

    The members differ only by seed, so this is how much a single training run of k members moves
    by chance: the scale against which an ablation row (one run) must be read.
    """
    corpus = corpus_of(ckpt, data_dir)
    splits = {"dev": corpus.dev, "test": corpus.test}
    encoder = TextEncoder.for_checkpoint(ckpt)
    logits = logits_per_member(ckpt, {split: encoder.ids(ex.text for ex in exs) for split, exs in splits.items()})
    labels = {split: torch.tensor([ex.label for ex in examples]) for split, examples in splits.items()}
    out = []
    for k in sizes:
        if k > len(ckpt.members):
            continue
        subsets = list(itertools.combinations(range(len(ckpt.members)), k))
        row: dict[str, Any] = {"members": k, "subsets": len(subsets)}
        for split in splits:
            predicted = [torch.stack([logits[split][i] for i in subset]).sum(0).argmax(-1) for subset in subsets]
            accs = [float((p == labels[split]).float().mean()) for p in predicted]
            row[split] = {
                "mean": statistics.mean(accs),
                "sd": statistics.pstdev(accs),
                "min": min(accs),
                "max": max(accs),
                "first": accs[0],  # members 1..k, what the recipe's k-member run trains
            }
        out.append(row)
    return out


def forward_cost(ckpt: Checkpoint, data_dir: Path, repeats: int = 5) -> dict[str, float]:
    """Median milliseconds per text of the serving forward pass at batch 1 and batch 64."""
    corpus = corpus_of(ckpt, data_dir)
    classifier = Classifier(ckpt)
    ids = TextEncoder.for_checkpoint(ckpt).ids(ex.text for ex in corpus.test[:256])
    result = {}
    for batch in (1, 64):
        chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            for chunk in chunks:
                classifier.forward_ids(chunk)
            times.append((time.perf_counter() - started) / len(ids))
        result[f"batch_{batch}_ms_per_text"] = sorted(times)[len(times) // 2] * 1000
    return result


Predict = Callable[[list[str], scale.View], torch.Tensor]  # texts, view -> probabilities in that view


def _vader(corpus: Corpus, model_labels: tuple[str, ...]) -> Predict:
    """VADER's compound score: polar by its sign (>= 0 positive); three-way with the usual +-0.05
    neutral band; five-point by bands at +-0.05 and +-0.5."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def predict(texts: list[str], view: scale.View) -> torch.Tensor:
        compound = torch.tensor([vader.polarity_scores(t)["compound"] for t in texts])
        if view == "binary" or model_labels == scale.BINARY:
            return torch.nn.functional.one_hot((compound >= 0).long(), 2).float()
        five = torch.bucketize(compound, torch.tensor([-0.5, -0.05, 0.05, 0.5]), right=False)
        five = torch.where(compound == 0.05, 3, five)  # 0.05 itself is positive, as VADER's band says
        return scale.view(torch.nn.functional.one_hot(five, 5).float(), scale.FIVE, view)

    return predict


def _tfidf(analyzer: Literal["word", "char"], ngrams: tuple[int, int]) -> Callable[[Corpus, tuple[str, ...]], Predict]:
    """A TF-IDF logistic regression trained on the corpus's training texts (its own labels)."""

    def fit(corpus: Corpus, model_labels: tuple[str, ...]) -> Predict:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True)
        x = vec.fit_transform([ex.text for ex in corpus.train])
        # One BLAS thread: the solver's sums then add up in one order, so the card's figures do not
        # depend on the machine's core count.
        with threadpool_limits(1):
            lr = LogisticRegression(C=10, max_iter=2000).fit(x, [ex.label for ex in corpus.train])

        def predict(texts: list[str], view: scale.View) -> torch.Tensor:
            probs = torch.from_numpy(lr.predict_proba(vec.transform(texts))).float()
            return scale.view(probs, model_labels, view)

        return predict

    return fit


BASELINES: dict[str, tuple[str, Callable[[Corpus, tuple[str, ...]], Predict]]] = {
    "vader": ("VADER 3.3.2", _vader),
    "word-tfidf": ("word 1-2-gram TF-IDF logistic regression on the training texts", _tfidf("word", (1, 2))),
    "char-tfidf": ("char 1-3-gram TF-IDF logistic regression", _tfidf("char", (1, 3))),
}


def baselines(
    ckpt: Checkpoint, data_dir: Path, only: tuple[str, ...] = (), kinds: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """The language's reference models (``kinds`` of them, if given) on the texts ``ckpt`` is scored
    on (``only`` those sets, if given), each set read in its own view: {model: {set: report}}; a
    model whose package is not installed is left out."""
    record = language(ckpt.language)
    corpus = corpus_of(ckpt, data_dir)
    sets = {name: exs for name, exs in {"test": corpus.test, **corpus.extra}.items() if not only or name in only}
    out: dict[str, dict[str, Any]] = {}
    for kind in record.baselines:
        if kinds and kind not in kinds:
            continue
        name, make = BASELINES[kind]
        try:
            predict = make(corpus, corpus.labels)
        except ImportError:
            continue
        out[name] = {}
        for set_name, examples in sets.items():
            view = corpus.views.get(set_name, "model")
            probs = predict([ex.text for ex in examples], view)
            names = scale.labels_of(corpus.labels, view)
            labels, categories = [ex.label for ex in examples], [ex.category for ex in examples]
            out[name][set_name] = report(probs, labels, [0] * len(examples), names, categories)
    return out


def plot_history(ckpt: Checkpoint, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = ckpt.training.get("history", [])
    members = history if history and isinstance(history[0], list) else [history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for m, hist in enumerate(members):
        epochs = [h["epoch"] for h in hist]
        suffix = f" (member {m + 1})" if len(members) > 1 else ""
        ax_loss.plot(epochs, [h["train_loss"] for h in hist], marker="o", label="train loss" + suffix)
        ax_acc.plot(epochs, [h["train_accuracy"] for h in hist], marker="o", label="train" + suffix)
        ax_acc.plot(epochs, [h["dev_accuracy"] for h in hist], marker="s", label="dev" + suffix)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Training loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lang", choices=sorted(LANGUAGES), default="en")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped checkpoint of --lang")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--card", type=Path, default=None, help="model card to write (default: beside the checkpoint)")
    p.add_argument("--no-card", action="store_true", help="print the metrics only")
    p.add_argument("--no-baselines", action="store_true", help="leave the reference models out of the card")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    path = args.checkpoint or language(args.lang).checkpoint_path
    ckpt = load_checkpoint(path)
    metrics = evaluate(ckpt, args.data_dir)
    cost = forward_cost(ckpt, args.data_dir)
    spread = seed_spread(ckpt, args.data_dir)
    summary = {name: {"accuracy": m["accuracy"], "ece": m["ece"], "n": m["n"]} for name, m in metrics.items()}
    print(json.dumps({"checkpoint": str(path), **summary, "forward_cost": cost, "seed_spread": spread}, indent=2))
    if args.no_card:
        return
    from model.model_card import write_card

    card = args.card or path.parent / language(ckpt.language).card
    plot = card.with_name(path.stem + "-training.png")
    plot_history(ckpt, plot)
    references = {} if args.no_baselines else baselines(ckpt, args.data_dir)
    write_card(
        card,
        path,
        sha256_file(path),
        ckpt,
        metrics,
        cost,
        plot.name,
        references,
        spread,
    )
    print(f"wrote {card} and {plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
