"""A small labelled corpus written out in code, so that unit tests train real checkpoints without data files."""

from __future__ import annotations

import itertools
import random

from model.corpora import Corpus
from model.data import Example

_EN_POSITIVE = ["good", "great", "wonderful", "delightful", "moving", "funny", "brilliant", "lovely"]
_EN_NEGATIVE = ["bad", "awful", "dull", "boring", "terrible", "lifeless", "clumsy", "tedious"]
_EN_SUBJECTS = ["the film", "this movie", "the story", "the acting", "the food", "the service", "it", "the plot"]
_EN_FRAMES = ["{s} was {a} .", "{s} is {a} !", "{s} is really {a} .", "{s} was so {a} , i think ."]

_ZH_POSITIVE = ["很好", "不错", "干净", "满意", "方便", "舒服"]
_ZH_NEGATIVE = ["很差", "太贵", "失望", "难吃", "脏乱", "麻烦"]
_ZH_SUBJECTS = ["房间", "服务", "早餐", "位置", "电脑", "这本书"]
_ZH_FRAMES = ["{s}{a}。", "{s}真的{a}！", "总的来说{s}{a}，"]


def _examples(
    subjects: list[str], frames: list[str], positive: list[str], negative: list[str], seed: int
) -> list[Example]:
    rows = [
        Example(frame.format(s=s, a=a), label)
        for label, words in ((1, positive), (0, negative))
        for s, a, frame in itertools.product(subjects, words, frames)
    ]
    random.Random(seed).shuffle(rows)
    return rows


def corpus(lang: str = "en") -> Corpus:
    """Train / dev / test splits (disjoint texts) in English or Chinese, balanced between the labels."""
    if lang == "zh":
        rows = _examples(_ZH_SUBJECTS, _ZH_FRAMES, _ZH_POSITIVE, _ZH_NEGATIVE, seed=2)
    else:
        rows = _examples(_EN_SUBJECTS, _EN_FRAMES, _EN_POSITIVE, _EN_NEGATIVE, seed=1)
    n = len(rows) // 8
    return Corpus(train=rows[2 * n :], dev=rows[:n], test=rows[n : 2 * n], checksums={"synthetic": lang})
