"""Documents: what the model reads of a text (sentences, pieces that fit), and how sentence answers combine."""

from __future__ import annotations

import pytest
import torch

from model import scale
from model.document import Aggregation, combine, fit, pieces, polar_accuracy, shifted, weights
from model.encoding import TextEncoder
from model.tokenizer import PAD, UNK, Vocab, tokenize
from model.tokenizer_zh import tokenize_zh

EN = TextEncoder(tokenize, max_length=6, vocab=Vocab([PAD, UNK, "good", "film", "."]))
ZH = TextEncoder(tokenize_zh, max_length=12, vocab=Vocab([PAD, UNK, "好"]))


def test_each_sentence_is_a_piece_with_its_offsets() -> None:
    text = "Good film. Bad film!\nOk"
    found = pieces(text, "en", EN, "sentences")
    assert [text[p.span.start : p.span.end] for p in found] == ["Good film.", "Bad film!", "Ok"]
    assert [p.encoded.tokens for p in found] == [["good", "film", "."], ["bad", "film", "!"], ["ok"]]
    assert pieces("   \n ", "en", EN, "sentences") == []


def test_a_sentence_longer_than_the_model_reads_is_cut_at_whitespace_into_pieces_that_fit() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen"
    found = pieces(text, "en", EN, "sentences")
    assert all(not p.encoded.truncated for p in found)
    assert " ".join(text[p.span.start : p.span.end] for p in found) == text
    assert sum(len(p.encoded.ids) for p in found) == len(tokenize(text))


def test_a_long_sentence_is_cut_tokenizing_each_distinct_string_once() -> None:
    """Halving a long sentence asks for the same prefixes again (a half starts where its parent
    does), and a repetitive text for the same strings many times: each is tokenized once."""
    calls: list[str] = []

    def counting(text: str) -> list[str]:
        calls.append(text)
        return tokenize(text)

    text = "good film " * 200
    found = pieces(text, "en", TextEncoder(counting, max_length=6, vocab=EN.vocab), "sentences")
    assert sum(len(p.encoded.ids) for p in found) == len(tokenize(text))
    assert len(calls) == len(set(calls))
    assert [p.span for p in found] == [p.span for p in pieces(text, "en", EN, "sentences")]


def test_a_model_of_whole_texts_reads_a_text_whole_when_it_fits_else_runs_of_sentences() -> None:
    short = "房间很好。服务也好！"
    (whole,) = pieces(short, "zh", ZH, "texts")
    assert short[whole.span.start : whole.span.end] == short
    long = "房间很好。服务也好！早餐一般。位置方便。"
    runs = [long[p.span.start : p.span.end] for p in pieces(long, "zh", ZH, "texts")]
    assert runs == ["房间很好。服务也好！", "早餐一般。位置方便。"]  # each run of at most 12 characters


def test_combine_weighs_polar_sentences_and_the_last_one() -> None:
    neutral = [0.0, 0.0, 1.0, 0.0, 0.0]
    positive = [0.0, 0.0, 0.0, 0.2, 0.8]
    probs = torch.tensor([neutral, neutral, positive])
    assert torch.equal(combine(probs[:1], scale.FIVE, Aggregation()), probs[0])
    doc = combine(probs, scale.FIVE, Aggregation(polarity=1.0, last=0.0))
    torch.testing.assert_close(doc, torch.tensor(positive), atol=1e-5, rtol=0)  # neutral ones weigh ~0
    flat = combine(probs, scale.FIVE, Aggregation(polarity=0.0, last=0.0))
    torch.testing.assert_close(flat, probs.mean(0))
    w = weights(probs, scale.FIVE, Aggregation(polarity=0.0, last=2.0))
    assert w.tolist() == pytest.approx([1.0, 1.0, 3.0])
    binary = torch.tensor([[0.5, 0.5], [0.1, 0.9]])
    assert weights(binary, scale.BINARY, Aggregation()).tolist() == pytest.approx([1e-6, 0.8], abs=1e-6)


def test_fit_picks_the_aggregation_that_reads_labelled_documents_best() -> None:
    # Documents whose verdict is their last sentence: a heavier last sentence reads them better.
    early, late = [0.6, 0.2, 0.0, 0.2, 0.0], [0.0, 0.0, 0.0, 0.3, 0.7]
    docs = [torch.tensor([early, early, late])] * 3 + [torch.tensor([late, late, early])] * 3
    how, accuracy = fit(docs, [1, 1, 1, 0, 0, 0], scale.FIVE)
    assert accuracy == 1.0
    assert how.last > 0


def test_fit_shifts_documents_that_lean_to_one_side_back() -> None:
    # Positive reviews whose sentences lean negative on average: only a shift reads them right.
    mixed = [0.0, 0.55, 0.0, 0.45, 0.0]
    clear_neg = [0.0, 0.9, 0.0, 0.1, 0.0]
    docs = [torch.tensor([mixed, mixed])] * 4 + [torch.tensor([clear_neg, clear_neg])] * 4
    labels = [1] * 4 + [0] * 4
    assert polar_accuracy(docs, labels, scale.FIVE, Aggregation()) == 0.5
    how, accuracy = fit(docs, labels, scale.FIVE)
    assert accuracy == 1.0
    assert how.shift > 0


def test_fit_of_one_piece_documents_keeps_the_defaults() -> None:
    docs = [torch.tensor([[0.1, 0.9]]), torch.tensor([[0.8, 0.2]])]
    how, accuracy = fit(docs, [1, 0], scale.BINARY)
    assert how == Aggregation()
    assert accuracy == 1.0


@pytest.mark.parametrize("labels", [scale.FIVE, scale.BINARY])
def test_shift_moves_mass_between_the_polar_sides_and_keeps_the_rest(labels: tuple[str, ...]) -> None:
    probs = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1]) if labels == scale.FIVE else torch.tensor([0.6, 0.4])
    out = shifted(probs, labels, 1.0)
    assert float(out.sum()) == pytest.approx(1.0)
    neg, neutral, pos = scale.sides(labels)
    assert float(out[neutral].sum()) == pytest.approx(float(probs[neutral].sum()))
    # the odds of the positive side against the negative side are e times what they were
    before = float(probs[pos].sum() / probs[neg].sum())
    after = float(out[pos].sum() / out[neg].sum())
    assert after == pytest.approx(before * 2.718281828, rel=1e-5)
    # within a side, the labels keep their proportions
    torch.testing.assert_close(out[pos] / out[pos].sum(), probs[pos] / probs[pos].sum())
    assert torch.equal(shifted(probs, labels, 0.0), probs)


def test_strength_weighs_a_label_in_its_sides_odds_and_keeps_the_rest() -> None:
    probs = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1])
    out = shifted(probs, scale.FIVE, 0.0, (0.0, 0.0, 0.0, 0.0, 1.0))
    assert float(out[2]) == pytest.approx(0.4)  # neutral share kept
    assert float(out.sum()) == pytest.approx(1.0)
    # the positive side's odds count its very positive share e times: (0.2 + 0.1 e) / 0.3
    assert float(out[3:].sum() / out[:2].sum()) == pytest.approx((0.2 + 0.1 * 2.718281828) / 0.3, rel=1e-5)
    torch.testing.assert_close(out[3:] / out[3:].sum(), probs[3:] / probs[3:].sum())  # proportions kept
    torch.testing.assert_close(out[:2] / out[:2].sum(), probs[:2] / probs[:2].sum())


def test_salience_weighs_each_sentence_by_its_labels() -> None:
    probs = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.5, 0.0]])
    how = Aggregation(salience=(0.0, 1.0, 0.0, 2.0, 0.0))
    expected = [1.0, 0.5 * 2.718281828 + 0.5 * 7.389056099]
    assert weights(probs, scale.FIVE, how).tolist() == pytest.approx(expected, rel=1e-5)


def test_fit_weighs_very_labels_when_they_decide() -> None:
    # Positive reviews with a few very positive sentences among negative ones, and the reverse:
    # the sides' totals read both wrong; only counting a "very" label for more reads them right.
    pos_doc = torch.tensor([[0.0, 0.6, 0.0, 0.0, 0.4]] * 2)
    neg_doc = torch.tensor([[0.4, 0.0, 0.0, 0.6, 0.0]] * 2)
    docs, labels = [pos_doc] * 500 + [neg_doc] * 500, [1] * 500 + [0] * 500
    assert polar_accuracy(docs, labels, scale.FIVE, Aggregation()) == 0.0
    _, without = fit(docs, labels, scale.FIVE, per_label=False)
    how, accuracy = fit(docs, labels, scale.FIVE)
    assert without <= 0.5
    assert accuracy == 1.0
    assert how.strength[0] > 0
    assert how.strength[4] > 0
    assert len(how.salience) == 5
    assert how.salience[2] == 0.0


def test_few_documents_get_no_per_label_weights() -> None:
    docs = [torch.tensor([[0.0, 0.6, 0.0, 0.0, 0.4]] * 2)] * 4 + [torch.tensor([[0.4, 0.0, 0.0, 0.6, 0.0]] * 2)] * 4
    how, _ = fit(docs, [1] * 4 + [0] * 4, scale.FIVE)
    assert how.salience == ()
    assert how.strength == ()
