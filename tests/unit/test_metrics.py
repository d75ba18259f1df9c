"""Metrics, hand-checked on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from model.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    length_bucket,
    per_class,
    report,
)


def test_accuracy_and_confusion() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = [0, 1, 1, 0]
    assert accuracy(probs, labels) == 0.5
    cm = confusion_matrix(probs.argmax(-1).tolist(), labels, 2)
    assert cm == [[1, 1], [1, 1]]
    pc = per_class([[3, 1], [2, 4]], ["neg", "pos"])
    assert pc["neg"]["precision"] == pytest.approx(3 / 5)
    assert pc["neg"]["recall"] == pytest.approx(3 / 4)
    assert pc["pos"]["f1"] == pytest.approx(2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6))


def test_ece_perfectly_calibrated_and_overconfident() -> None:
    # 10 predictions at confidence 0.8, 8 of them right: calibrated.
    probs = torch.tensor([[0.8, 0.2]] * 10)
    assert expected_calibration_error(probs, [0] * 8 + [1] * 2) == pytest.approx(0.0, abs=1e-6)
    # All at confidence 1.0 but only half right: ECE 0.5.
    probs = torch.tensor([[1.0, 0.0]] * 4)
    assert expected_calibration_error(probs, [0, 0, 1, 1]) == pytest.approx(0.5)


def test_length_buckets_and_report() -> None:
    assert [length_bucket(n) for n in (1, 10, 11, 40, 41, 500)] == ["1-10", "1-10", "11-20", "31-40", "41+", "41+"]
    probs = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    r = report(probs, [0, 0], [5, 50], ["negative", "positive"])
    assert r["by_length"] == {"1-10": {"n": 1, "accuracy": 1.0}, "41+": {"n": 1, "accuracy": 0.0}}
    assert r["accuracy"] == 0.5
    assert r["n"] == 2


def test_fit_temperature_softens_overconfident_logits() -> None:
    torch.manual_seed(0)
    labels = torch.randint(0, 2, (400,))
    # Right 75% of the time but with huge margins: the best temperature is well above 1.
    right = torch.rand(400) < 0.75
    pred = torch.where(right, labels, 1 - labels)
    logits = torch.nn.functional.one_hot(pred, 2).float() * 20
    t = fit_temperature(logits, labels.tolist())
    assert t > 5
    assert accuracy((logits / t).softmax(-1), labels.tolist()) == accuracy(logits.softmax(-1), labels.tolist())


def test_documents_are_also_reported_by_how_long_they_are_in_characters() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])  # answers: 0, 1, 1, 0
    texts = ["a" * 100, "b" * 1000, "c" * 2000, "d" * 4000]
    r = report(probs, [0, 0, 1, 1], [1, 1, 1, 1], ["negative", "positive"], texts=texts)
    assert r["by_chars"]["1501-3000"] == {"n": 1, "accuracy": 1.0}
    assert r["longer_than"]["500"] == {"n": 3, "accuracy": pytest.approx(1 / 3)}
    assert r["longer_than"]["1500"] == {"n": 2, "accuracy": 0.5}
    assert r["longer_than"]["3000"] == {"n": 1, "accuracy": 0.0}
