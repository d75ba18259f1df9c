"""Sentence segmentation: hand-checked strings per rule, invariants on random texts, linear time."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

import pytest

from model.segment import Span, sentences, split

EN_CASES: list[tuple[str, list[str]]] = [
    # terminators and runs of them
    ("It was great. I loved it.", ["It was great.", "I loved it."]),
    ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
    ("What?! No way!!! ok then", ["What?!", "No way!!!", "ok then"]),
    ("i loved it. it was fun", ["i loved it.", "it was fun"]),
    ("Nice . Bad", ["Nice .", "Bad"]),
    # a piece with no letter, digit or emoji joins a neighbour
    ('no scene that screams " bathroom break ! "', ['no scene that screams " bathroom break ! "']),
    ("Great settings . .", ["Great settings . ."]),
    ("Loved it.\n!!!\nWill return.", ["Loved it.\n!!!", "Will return."]),
    ("... Great film.", ["... Great film."]),
    ("!!! ???", ["!!! ???"]),
    ("Great.\n😍", ["Great.", "😍"]),
    # no final punctuation; one sentence
    ("no punctuation at all", ["no punctuation at all"]),
    ("  padded sentence  ", ["padded sentence"]),
    ("Ends here. and then nothing", ["Ends here.", "and then nothing"]),
    # abbreviations and initials
    ("Dr. Smith met Mr. Jones. It went well.", ["Dr. Smith met Mr. Jones.", "It went well."]),
    (
        "Mrs. Brown and Ms. Green saw Prof. White on St. Mark's road.",
        ["Mrs. Brown and Ms. Green saw Prof. White on St. Mark's road."],
    ),
    ("Good vs. evil. Classic.", ["Good vs. evil.", "Classic."]),
    ("Some fruit, e.g. apples. Others, i.e. pears.", ["Some fruit, e.g. apples.", "Others, i.e. pears."]),
    (
        "Apples, pears, etc. and more. Apples, pears, etc. Then home.",
        ["Apples, pears, etc. and more.", "Apples, pears, etc.", "Then home."],
    ),
    (
        "We ate at 7 p.m. and left at 9 a.m. on Sunday. Good.",
        ["We ate at 7 p.m. and left at 9 a.m. on Sunday.", "Good."],
    ),
    ("Made in the U.S. and sold in the U.K. now. Fine.", ["Made in the U.S. and sold in the U.K. now.", "Fine."]),
    ("J. K. Rowling wrote it. I read it.", ["J. K. Rowling wrote it.", "I read it."]),
    ("philip k. dick wrote it. i read it.", ["philip k. dick wrote it.", "i read it."]),
    ("It was plan b. Then we left.", ["It was plan b.", "Then we left."]),
    ("(Dr. Who) is fun.", ["(Dr. Who) is fun."]),
    ("1. The plot was thin. 2. The acting was fine.", ["1. The plot was thin.", "2. The acting was fine."]),
    ("I rate it 10. Best film ever.", ["I rate it 10.", "Best film ever."]),
    # decimals and version numbers
    ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
    ("Update to v2.0.1 today. It works.", ["Update to v2.0.1 today.", "It works."]),
    ("I use v2.0.1. It works.", ["I use v2.0.1.", "It works."]),
    # URLs and e-mail addresses
    ("See https://example.com/a.b?c=1 for more. Thanks!", ["See https://example.com/a.b?c=1 for more.", "Thanks!"]),
    ("Visit www.example.com. It is good.", ["Visit www.example.com.", "It is good."]),
    ("Mail a.b@c.com with questions. Bye.", ["Mail a.b@c.com with questions.", "Bye."]),
    ("Write to a.b@c.com. Bye.", ["Write to a.b@c.com.", "Bye."]),
    # ellipses
    ("I waited... Then it came.", ["I waited...", "Then it came."]),
    ("I waited... and waited.", ["I waited... and waited."]),
    ("Hmm… Not great.", ["Hmm…", "Not great."]),
    ("Well… maybe.", ["Well… maybe."]),
    ('It was.... "Awful" I said', ["It was....", '"Awful" I said']),
    ("I paid... 20 dollars.", ["I paid... 20 dollars."]),
    ("Wait...what? No.", ["Wait...what?", "No."]),
    ("The end… ( Fin", ["The end… ( Fin"]),  # an opener that opens nothing is not a sentence start
    # quotes and brackets stay with their sentence
    ('He said "Great!" Then...', ['He said "Great!"', "Then..."]),
    ('She said, "This is great." She smiled.', ['She said, "This is great."', "She smiled."]),
    ('"Great!" he said.', ['"Great!" he said.']),
    ("It was fine (mostly.) Then it broke.", ["It was fine (mostly.)", "Then it broke."]),
    ("(Loved it!) Will return.", ["(Loved it!)", "Will return."]),
    ("It’s “fine.” Really.", ["It’s “fine.”", "Really."]),
    # emoji and emoticons after a terminator
    ("Loved it! 😍 Will return.", ["Loved it! 😍", "Will return."]),
    ("Loved it!😍Will return.", ["Loved it!😍", "Will return."]),
    ("Great! 👍🏽 👨‍👩‍👧 ❤️ See you.", ["Great! 👍🏽 👨‍👩‍👧 ❤️", "See you."]),
    ("So good! :) Bye. Meh. :( Bye", ["So good! :)", "Bye.", "Meh. :(", "Bye"]),
    ("Nice! <3 Again.", ["Nice! <3", "Again."]),
    ("Great! :Dave said so.", ["Great!", ":Dave said so."]),
    ("Good 😍 food", ["Good 😍 food"]),
    # line breaks
    ("First line\nSecond line", ["First line", "Second line"]),
    ("One para.\n\nTwo para", ["One para.", "Two para"]),
    ("Dr.\nWho", ["Dr.", "Who"]),
    ("a\r\nb\u2028c\n\n\n  d  \n", ["a", "b", "c", "d"]),
    # only whitespace between sentences
    ("One.\t\tTwo.\u00a0 Three.\u3000Four.", ["One.", "Two.", "Three.", "Four."]),
    # glued terminators do not split
    ("Great!Will return.", ["Great!Will return."]),
]

ZH_CASES: list[tuple[str, list[str]]] = [
    ("今天天气很好。我们去公园吧！你去吗？", ["今天天气很好。", "我们去公园吧！", "你去吗？"]),
    ("真的吗？！太好了！！还行", ["真的吗？！", "太好了！！", "还行"]),
    ("房间很干净；服务一般", ["房间很干净；", "服务一般"]),
    ("好吧……下次再来", ["好吧……", "下次再来"]),
    ("好吧…下次再来", ["好吧…", "下次再来"]),
    ("好吧...下次再来", ["好吧...", "下次再来"]),
    ("他说：“太好了！”然后走了。", ["他说：“太好了！”", "然后走了。"]),
    ("「好看！」『真的？』（是的。）《书名。》完", ["「好看！」", "『真的？』", "（是的。）", "《书名。》", "完"]),
    ("真的吗?太好了!服务;一般", ["真的吗?", "太好了!", "服务;", "一般"]),
    ("很好.下次再来", ["很好.", "下次再来"]),
    ("评分3.5分，价格9.9元", ["评分3.5分，价格9.9元"]),
    ("评分３．５分．很好", ["评分３．５分．", "很好"]),
    ("太好了！😍下次再来", ["太好了！😍", "下次再来"]),
    ("看https://example.com/a?b=1很好。推荐", ["看https://example.com/a?b=1很好。", "推荐"]),
    ("好!Good", ["好!Good"]),
    ("第一行\n第二行", ["第一行", "第二行"]),
    ("很满意。 Great service! 下次再来", ["很满意。", "Great service!", "下次再来"]),
    ("没有标点的一句话", ["没有标点的一句话"]),
    ("很好！ ！下次再来", ["很好！ ！", "下次再来"]),
    ("。。。好", ["。。。好"]),
]


@pytest.mark.parametrize(("text", "expected"), EN_CASES)
def test_english(text: str, expected: list[str]) -> None:
    assert split(text, "en") == expected


@pytest.mark.parametrize(("text", "expected"), ZH_CASES)
def test_chinese(text: str, expected: list[str]) -> None:
    assert split(text, "zh") == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("好!下次", "en", ["好!下次"]),  # ASCII "!" after CJK ends a sentence only for Chinese
        ("好!下次", "zh-CN", ["好!", "下次"]),
        ("好!下次", "zh_TW", ["好!", "下次"]),
        ("好。下次", "en", ["好。", "下次"]),  # full-width terminators end one in any language
        ("Dr. Smith. Fine", "xx", ["Dr. Smith.", "Fine"]),  # an unknown language: English rules
    ],
)
def test_language_selects_rules(text: str, lang: str, expected: list[str]) -> None:
    assert split(text, lang) == expected


@pytest.mark.parametrize("text", ["", " ", "   \n\t \u3000 ", "\n\n\n", "\r\n\u2029"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert sentences(text, "en") == []
    assert sentences(text, "zh") == []


@pytest.mark.parametrize("text", ["Hello", "  Hello world.  ", "\n\tOne sentence only!\n", "一句话。"])
def test_one_sentence_is_the_stripped_text(text: str) -> None:
    start = len(text) - len(text.lstrip())
    assert sentences(text, "en") == [Span(start, start + len(text.strip()))]


def test_offsets_index_the_original_string() -> None:
    text = "  Hi.  There 😍!\n\nBye"
    assert sentences(text) == [Span(2, 5), Span(7, 15), Span(17, 20)]
    assert [text[s.start : s.end] for s in sentences(text)] == split(text) == ["Hi.", "There 😍!", "Bye"]


def test_span_is_frozen() -> None:
    span = Span(0, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        span.start = 2  # type: ignore[misc]


PIECES = [
    *["word", "Great", "the film", "i", "J.", "K.", "Dr.", "Mr.", "e.g.", "etc.", "U.S.", "3.5", "v2.0.1", "10."],
    *["https://example.com/a.b?c=1", "a.b@c.com", "好", "太好了", "服务", "３．５"],
    *["😍", "👍🏽", "❤️", ":)", ";)", "<3"],
    *[".", "!", "?", "?!", "!!!", "...", "…", "……", "。", "！", "？", "；", "．", ";", ",", "，"],
    *['"', "'", "“", "”", "「", "」", "(", ")", "（", "）", "《", "》"],
]
SEPARATORS = ["", " ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u3000", "\u00a0", "\u2028", " \n "]


def _random_text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 40)):
        parts.append(rng.choice(PIECES))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_invariants_on_random_texts(lang: str) -> None:
    rng = random.Random(20)
    for _ in range(400):
        text = _random_text(rng)
        spans = sentences(text, lang)
        covered = [False] * len(text)
        previous_end = 0
        for span in spans:
            piece = text[span.start : span.end]
            assert piece, (text, span)
            assert piece == piece.strip(), (text, span)
            assert previous_end <= span.start < span.end <= len(text), (text, spans)
            assert not text[previous_end : span.start].strip(), (text, spans)  # only whitespace between
            covered[span.start : span.end] = [True] * (span.end - span.start)
            previous_end = span.end
        assert not text[previous_end:].strip(), (text, spans)
        assert all(covered[i] or ch.isspace() for i, ch in enumerate(text)), (text, spans)
        pieces = split(text, lang)
        assert pieces == [text[s.start : s.end] for s in spans]
        assert all(split(piece, lang) == [piece] for piece in pieces), (text, pieces)  # a sentence stays whole


def _best_time(segment: Callable[[], object], repeats: int = 5) -> float:
    """CPU seconds of this thread (best of ``repeats``): other test workers' load does not count."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        segment()
        best = min(best, time.thread_time() - start)
    return best


REVIEW = (
    "Dr. Smith's new film is e.g. 3.5 hours long... Then again, it's worth it! 😍 "
    "The cast (J. K. Rowling cameo!) is great; see https://example.com/a.b?c=1 or mail a.b@c.com. "
    'He said "Wow!" Honestly\nI loved it\n\n真的吗？太好了！！下次再来……好!\n'
)


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_100k_characters_in_linear_time(lang: str) -> None:
    small, large = _repeat(REVIEW, 10_000), _repeat(REVIEW, 100_000)
    t_small = _best_time(lambda: sentences(small, lang))
    t_large = _best_time(lambda: sentences(large, lang))
    assert t_large < 0.5, f"{t_large * 1000:.1f} ms for 100,000 characters"
    # Ten times the text: about ten times the time; a quadratic pass would take about a hundred.
    assert t_large < 30 * max(t_small, 1e-4), (t_small, t_large)


@pytest.mark.parametrize(
    "unit",
    [
        "Dr. ",  # one long sentence of abbreviations: no look-back over the whole sentence
        "a.",  # one long token full of periods
        "wait... ",  # ellipses that never end a sentence
        "x",  # no terminator at all
        "😍 ",  # a long emoji tail
        "Hi! ",  # a sentence every four characters
        "好!",  # ASCII terminators between CJK
        "1. ",  # list numbers
        " ",  # whitespace only
    ],
)
def test_adversarial_texts_are_linear(unit: str) -> None:
    small, large = _repeat(unit, 10_000), _repeat(unit, 100_000)
    t_small = _best_time(lambda: sentences(small, "zh"), repeats=3)
    t_large = _best_time(lambda: sentences(large, "zh"), repeats=3)
    assert t_large < 1.0, f"{t_large * 1000:.1f} ms for 100,000 characters of {unit!r}"
    assert t_large < 30 * max(t_small, 1e-4), (t_small, t_large)
