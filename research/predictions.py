"""Fingerprints of the shipped checkpoints' answers: ``python -m research.predictions``.

Prints, per language, the SHA-256 of the test split's probabilities (float32 bytes, in file order)
and of the service's answers to its first texts (JSON), so that a change that must not move any
prediction (a refactor, a faster forward pass) can be checked bit for bit: run it before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch

from model.checkpoint import load_checkpoint
from model.data import default_data_dir
from model.encoding import TextEncoder
from model.evaluate import corpus_of
from model.inference import Classifier
from model.languages import LANGUAGES, language


def fingerprints(lang: str, data_dir: Path, service_texts: int = 50) -> dict[str, object]:
    from service.predictor import PredictItem, Predictor

    record = language(lang)
    ckpt = load_checkpoint(record.checkpoint_path)
    corpus = corpus_of(ckpt, data_dir)
    probs = Classifier(ckpt).predict_proba(TextEncoder.for_checkpoint(ckpt).ids(ex.text for ex in corpus.test))
    predictor = Predictor.load(record.checkpoint_path)
    items = [PredictItem(predictor.encode(ex.text), explain=i % 10 == 0) for i, ex in enumerate(corpus.test)]
    answers = predictor.predict(items[:service_texts])
    return {
        "test_texts": len(corpus.test),
        "test_probabilities_sha256": hashlib.sha256(probs.numpy().tobytes()).hexdigest(),
        "service_answers_sha256": hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest(),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(json.dumps({lang: fingerprints(lang, args.data_dir) for lang in LANGUAGES}, indent=2))


if __name__ == "__main__":
    main()
