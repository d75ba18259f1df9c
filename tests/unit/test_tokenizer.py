"""Tokenizer: raw text -> SST-2's lower-cased PTB conventions, checked by hand."""

from __future__ import annotations

import random

import pytest

from model.tokenizer import PAD, UNK, UNK_ID, Aliases, Vocab, tokenize, tokenize_whole
from model.tokenizer_zh import tokenize_zh


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This ISN'T great (at all)!", ["this", "is", "n't", "great", "-lrb-", "at", "all", "-rrb-", "!"]),
        ("I can't believe it's not butter...", ["i", "ca", "n't", "believe", "it", "'s", "not", "butter", "..."]),
        ("Won't, don't, cannot", ["wo", "n't", ",", "do", "n't", ",", "can", "not"]),
        ("dont wont isnt", ["do", "n't", "wo", "n't", "is", "n't"]),
        ("Im sure thats what youre after", ["i", "'m", "sure", "that", "'s", "what", "you", "'re", "after"]),
        ("its ill lets id were", ["its", "ill", "lets", "id", "were"]),  # words in their own right
        # an apostrophe split off by hand or by another tool; a quoted letter stays as it was
        ("I don 't, can ' t, wasn' t", ["i", "do", "n't", ",", "ca", "n't", ",", "was", "n't"]),
        ("the letter ' t ', it 't", ["the", "letter", "'", "t", "'", ",", "it", "'", "t"]),
        ("they're we've I'll she'd I'm", ["they", "'re", "we", "'ve", "i", "'ll", "she", "'d", "i", "'m"]),
        ('He said "wow" -- really', ["he", "said", "``", "wow", "''", "--", "really"]),
        ("Mr. Smith's writer/director debut.", ["mr.", "smith", "'s", "writer\\/director", "debut", "."]),
        ("U.S. films of the '70s", ["u.s.", "films", "of", "the", "'70s"]),
        ("A 90-minute film, 1/2 star", ["a", "90-minute", "film", ",", "1\\/2", "star"]),
        ("Soooo goooood!!!", ["soo", "good", "!", "!", "!"]),
        ("it\u2019s \u201cfine\u201d \u2014 ok\u2026", ["it", "'s", "``", "fine", "''", "--", "ok", "..."]),
        ("\uff26\uff55\uff4c\uff4c\u3000\uff57\uff49\uff44\uff54\uff48\uff01", ["full", "width", "!"]),
        ("great :) awful :( <3", ["great", "good", "awful", "bad", "love"]),
        ("loved it \U0001f60d\U0001f44d\U0001f3fd", ["loved", "it", "love", "good"]),
        ("see https://example.com/a?b=1 now", ["see", "https://example.com/a?b=1", "now"]),
        (
            "\u65e5\u672c\u8a9e and \u0440\u0443\u0441\u0441\u043a\u0438\u0439",
            ["\u65e5\u672c\u8a9e", "and", "\u0440\u0443\u0441\u0441\u043a\u0438\u0439"],
        ),
        ("a\x00b\u200dc\td", ["a", "bc", "d"]),
        # HTML pasted with the text: tags separate words, entities are their characters
        ("<p>Great product, <b>love</b> it!</p>", ["great", "product", ",", "love", "it", "!"]),
        ("Loved it.<br /><br />Will return", ["loved", "it", ".", "will", "return"]),
        ('<DIV CLASS="r">Nice</DIV>', ["nice"]),
        ("don&#39;t &quot;fine&quot; &amp; AT&T", ["do", "n't", "``", "fine", "''", "&", "at", "&", "t"]),
        ("<3 x <y z> &lt;b&gt;", ["love", "x", "<", "y", "z", ">", "<", "b", ">"]),
        # Markdown emphasis is its words; a censored word, an identifier, a rating keep their marks
        ("**Great** product, _awful_ box, *sigh*", ["great", "product", ",", "awful", "box", ",", "sigh"]),
        ("f*** snake_case 5*", ["f", "\\*", "\\*", "\\*", "snake", "_", "case", "5", "\\*"]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_tokenize_raw_text(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_chinese_reads_traditional_characters_as_simplified() -> None:
    assert tokenize_zh("這家酒店的服務很好，房間也很乾淨。") == tokenize_zh("这家酒店的服务很好，房间也很干净。")
    assert tokenize_zh("乾隆年間") == ["乾", "隆", "年", "间"]  # by phrase: the name keeps its 乾
    assert tokenize_zh("著名的酒店，干净") == list("著名的酒店,干净")  # simplified text as it was
    assert tokenize_zh("好\ud800的") == ["好", "\ud800", "的"]  # a lone surrogate: read unconverted


def test_chinese_reads_html_tags_as_spaces_and_entities_as_they_come() -> None:
    """ChnSentiCorp's reviews hold entities undecoded ("&#183;"), so the Chinese model learned them so."""
    assert tokenize_zh("<p>房间<b>很好</b></p>") == ["房", "间", "很", "好"]
    assert tokenize_zh("价格&#183;服务") == ["价", "格", "&", "#", "183", ";", "服", "务"]


@pytest.mark.parametrize(
    "sst",
    [
        "it 's a -lrb- good -rrb- film , is n't it ?",
        "the writer\\/director 's `` best '' work ... -- really",
        "a stirring , funny and finally transporting re-imagining of beauty and the beast and 1930s horror films",
        "mr. and mrs. smith ca n't see u.s. 2 1\\/2 stars",
    ],
)
def test_tokenize_is_idempotent_on_sst_text(sst: str) -> None:
    assert tokenize(sst) == sst.split()
    assert tokenize(" ".join(tokenize(sst))) == tokenize(sst)


# Pieces whose tokens depend on what surrounds them: quotes (opening or closing), initials before a
# word, abbreviations before a period, emoticons (only between spaces), clitics, URLs, non-ASCII.
PIECES = [*"abcxyzIU019", " ", " ", " ", ".", "..", '"', "'", ":)", ":-(", "(", ")", "b.", "i.", "u.s."]
PIECES += ["n't", "'s", "-", "--", "/", "\\/", "*", "http://x.y/z", "www.a", "<3", "!!!", "?", ",", "\t"]
PIECES += ["\n", "mr.", "e.g.", "1,000", "2nd", "'90s", "'em", "-lrb-", "``", "''", "cannot", "dont"]
PIECES += ["goooood", "\x1c", "\u00e9", "\u3000", "\U0001f600"]
PIECES += ["<br />", "<b>", "</p>", "&#39;", "&amp;", "&", "**", "_", "don", "can", "t"]


def test_chunk_cache_gives_the_whole_text_tokenization() -> None:
    """`tokenize` splits ASCII text at spaces and caches chunks; it must equal the pattern run over
    the whole text. (Run over all 80k SST sentences and phrases plus 200k such strings: equal.)"""
    rng = random.Random(0)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randrange(25))) for _ in range(5000)]
    texts += ['He said "no." b. c. mr. "x"', "i. e. :) ok", 'say "hi" a.b. c. d', 'x\u00a0"y"']
    for text in texts:
        assert tokenize(text) == tokenize_whole(text), text


def test_tokenize_very_long_input() -> None:
    tokens = tokenize("good " * 100_000)
    assert len(tokens) == 100_000
    assert set(tokens) == {"good"}


def test_vocab_build_orders_by_frequency_with_pad_and_unk_first() -> None:
    vocab = Vocab.build([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab.itos == (PAD, UNK, "b", "a", "c")
    assert vocab.encode(["a", "zzz", "c"]) == [3, UNK_ID, 4]
    assert "a" in vocab
    assert "zzz" not in vocab


def test_vocab_min_freq_and_validation() -> None:
    assert Vocab.build([["x", "x", "y"]], min_freq=2).itos == (PAD, UNK, "x")
    with pytest.raises(ValueError, match="must start"):
        Vocab(["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        Vocab([PAD, UNK, "a", "a"])


def test_aliases_read_a_word_outside_the_vocabulary_as_their_word() -> None:
    aliases = Aliases.of([("router", 3), ("wifi", 2), ("router", 4)])  # a word's first id counts
    vocab = Vocab([PAD, UNK, "wireless", "modem", "good"], aliases)
    assert vocab.encode(["router", "wifi", "modem", "zzz", "good"]) == [3, 2, 3, UNK_ID, 4]
    assert "router" not in vocab  # the vocabulary itself is unchanged
    assert len(aliases) == 2
    assert Vocab(vocab.itos).encode(["router"]) == [UNK_ID]
    words = [f"w{i}" for i in range(5000)]  # the binary search over many digests
    many = Aliases.of((w, 2 + i % 3) for i, w in enumerate(words))
    assert [many.get(w) for w in words] == [2 + i % 3 for i in range(5000)]
    assert many.get("w5000") == UNK_ID


def test_aliases_are_validated() -> None:
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocab([PAD, UNK, "a"], Aliases.of([("b", 3)]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocab([PAD, UNK, "a"], Aliases.of([("b", UNK_ID)]))
    with pytest.raises(ValueError, match="sorted"):
        Aliases([5, 3], [2, 2])
    with pytest.raises(ValueError, match="one id per word"):
        Aliases([3], [2, 2])
