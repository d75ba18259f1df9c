"""The one function from texts to model input: tokenize, truncate to the model's length, encode.

Training, evaluation, the service and the benchmarks all go through `TextEncoder`, so a text is
read the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.languages import tokenizer_for
from model.tokenizer import UNK_ID, Vocab

if TYPE_CHECKING:
    from model.checkpoint import Checkpoint


@dataclass(frozen=True)
class EncodedText:
    """One text after tokenization and encoding, truncated to the model's max length."""

    tokens: list[str]
    ids: list[int]
    truncated: bool
    unknown: int  # how many of ``ids`` are UNK


@dataclass(frozen=True)
class TextEncoder:
    tokenize: Callable[[str], list[str]]
    max_length: int
    vocab: Vocab | None = None  # None while training builds it from `tokens`

    @classmethod
    def for_checkpoint(cls, ckpt: Checkpoint) -> TextEncoder:
        return cls(tokenizer_for(ckpt.tokenizer), ckpt.max_length, ckpt.vocab)

    def with_vocab(self, vocab: Vocab) -> TextEncoder:
        return TextEncoder(self.tokenize, self.max_length, vocab)

    def tokens(self, text: str) -> list[str]:
        """The tokens the model reads: at most ``max_length`` of them."""
        return self.tokenize(text)[: self.max_length]

    def encode(self, text: str) -> EncodedText:
        return self.encode_tokens(self.tokenize(text))

    def encode_tokens(self, tokens: list[str]) -> EncodedText:
        """`encode` of a text whose tokens are ``tokens`` (the text tokenized already)."""
        truncated = len(tokens) > self.max_length
        tokens = tokens[: self.max_length]
        ids = self._vocab.encode(tokens)
        return EncodedText(tokens, ids, truncated, ids.count(UNK_ID))

    def ids(self, texts: Iterable[str]) -> list[list[int]]:
        """Token ids of many texts, each truncated: what `model.inference.Classifier` takes."""
        encode = self._vocab.encode
        return [encode(self.tokens(text)) for text in texts]

    @property
    def _vocab(self) -> Vocab:
        if self.vocab is None:
            raise ValueError("this encoder has no vocabulary yet (see `with_vocab`)")
        return self.vocab
