"""`TextEncoder`: the one function from texts to model input (tokenize, truncate, encode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import load_checkpoint
from model.encoding import TextEncoder
from model.tokenizer import PAD, UNK, UNK_ID, Vocab, tokenize

VOCAB = Vocab([PAD, UNK, "the", "film", "was", "good", "."])


def test_encode_truncates_counts_unknown_tokens_and_agrees_with_ids() -> None:
    encoder = TextEncoder(tokenize, max_length=4, vocab=VOCAB)
    enc = encoder.encode("The film was SO good.")
    assert enc.tokens == ["the", "film", "was", "so"]
    assert enc.ids == [2, 3, 4, UNK_ID]
    assert (enc.truncated, enc.unknown) == (True, 1)
    short = encoder.encode("the film .")
    assert (short.ids, short.truncated, short.unknown) == ([2, 3, 6], False, 0)
    assert encoder.ids(["The film was SO good.", "the film ."]) == [enc.ids, short.ids]
    assert encoder.tokens("the film was good . the film") == ["the", "film", "was", "good"]


def test_an_encoder_without_a_vocabulary_only_tokenizes() -> None:
    encoder = TextEncoder(tokenize, max_length=2)
    assert encoder.tokens("good film .") == ["good", "film"]
    with pytest.raises(ValueError, match="no vocabulary"):
        encoder.encode("good film")
    assert encoder.with_vocab(VOCAB).encode("good film").ids == [5, 3]


def test_for_checkpoint_uses_the_checkpoints_tokenizer_vocabulary_and_length(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    encoder = TextEncoder.for_checkpoint(ckpt)
    assert (encoder.tokenize, encoder.vocab, encoder.max_length) == (tokenize, ckpt.vocab, ckpt.max_length)
