"""Every reading of an answer, from the model's probabilities: three-way, polar, the score, in log space too."""

from __future__ import annotations

import pytest
import torch

from model import scale

FIVE_PROBS = torch.tensor([[0.1, 0.2, 0.4, 0.2, 0.1], [0.0, 0.0, 0.0, 0.5, 0.5], [0.6, 0.2, 0.2, 0.0, 0.0]])


def test_three_way_sums_each_side_and_keeps_neutral() -> None:
    three = scale.view(FIVE_PROBS, scale.FIVE, "three")
    torch.testing.assert_close(three, torch.tensor([[0.3, 0.4, 0.3], [0.0, 0.0, 1.0], [0.8, 0.2, 0.0]]))
    torch.testing.assert_close(three.sum(-1), torch.ones(3))
    assert scale.labels_of(scale.FIVE, "three") == ("negative", "neutral", "positive")


def test_binary_sets_neutral_aside_and_renormalises() -> None:
    polar = scale.view(FIVE_PROBS, scale.FIVE, "binary")
    torch.testing.assert_close(polar, torch.tensor([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]))
    two = torch.tensor([[0.3, 0.7]])
    assert torch.equal(scale.view(two, scale.BINARY, "binary"), two)
    with pytest.raises(ValueError, match="no neutral"):
        scale.view(two, scale.BINARY, "three")


def test_sentiment_is_the_expected_scale_point_and_monotonic() -> None:
    torch.testing.assert_close(scale.sentiment(FIVE_PROBS, scale.FIVE), torch.tensor([0.0, 0.75, -0.7]))
    points = scale.sentiment(torch.eye(5), scale.FIVE)
    torch.testing.assert_close(points, torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    assert bool((points.diff() > 0).all())
    torch.testing.assert_close(scale.sentiment(torch.tensor([[0.2, 0.8]]), scale.BINARY), torch.tensor([0.6]))


@pytest.mark.parametrize("view", ["model", "three", "binary"])
def test_log_probs_agree_with_probabilities(view: scale.View) -> None:
    logits = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    expected = scale.view(logits.softmax(-1), scale.FIVE, view)
    torch.testing.assert_close(scale.view_log_probs(logits, scale.FIVE, view).exp(), expected)


@pytest.mark.parametrize("view", ["model", "three", "binary"])
def test_the_list_versions_agree_with_the_tensor_ones(view: scale.View) -> None:
    probs = torch.rand(6, 5, generator=torch.Generator().manual_seed(1)).softmax(-1)
    rows = probs.tolist()
    listed = torch.tensor(scale.view_rows(rows, scale.FIVE, view))
    torch.testing.assert_close(listed, scale.view(probs, scale.FIVE, view))
    # float32 tensors against Python floats: equal to float32's precision, not to pytest's relative 1e-6
    assert scale.sentiment_rows(rows, scale.FIVE) == pytest.approx(
        scale.sentiment(probs, scale.FIVE).tolist(), abs=1e-6
    )
    two = probs[:, :2].softmax(-1)
    assert scale.sentiment_rows(two.tolist(), scale.BINARY) == pytest.approx(
        scale.sentiment(two, scale.BINARY).tolist(), abs=1e-6
    )
    with pytest.raises(ValueError, match="no neutral"):
        scale.view_rows(two.tolist(), scale.BINARY, "three")
