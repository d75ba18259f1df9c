"""Language routing: a text without ``lang`` goes to the loaded model of its script."""

from __future__ import annotations

import pytest

from model.languages import LANGUAGES
from model.tokenizer_zh import CJK_CHARACTER, is_cjk
from service.language import Router, detect, script_of


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("这家酒店很好", "cjk"),
        ("iPhone很好用", "cjk"),  # 3 CJK characters, 1 word
        ("房间很干净, location is great", "cjk"),  # 5 characters, 3 words
        ("the 功夫 scenes were great", "latin"),  # 2 characters, 4 words
        ("功夫 film", "cjk"),  # a tie goes to the CJK model
        ("<b>好</b>", "cjk"),  # HTML tags are not words
        ("<i>the 功夫 scenes were great</i>", "latin"),
        ("Ein schöner Film", "latin"),
        ("A gorgeous, witty film.", "latin"),
        ("12345 !!!", "latin"),
        ("😀😀", "latin"),
        ("", "latin"),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_every_language_record_has_a_script_the_router_knows() -> None:
    assert {lang.script for lang in LANGUAGES.values()} == {"latin", "cjk"}


def test_router_picks_the_loaded_language_of_each_script() -> None:
    assert Router.among(["en", "zh"]) == Router(latin="en", cjk="zh")
    assert Router.among(["zh", "en"]) == Router(latin="en", cjk="zh")  # order does not matter with both
    router = Router.among(["zh", "en"])
    assert (router("这家酒店很好"), router("A fine film.")) == ("zh", "en")


@pytest.mark.parametrize("loaded", [["en"], ["zh"]])
def test_with_one_model_loaded_everything_goes_to_it(loaded: list[str]) -> None:
    router = Router.among(loaded)
    assert {router(text) for text in ("这家酒店很好", "A fine film.", "", "😀")} == set(loaded)
    assert {detect(text, loaded) for text in ("这家酒店很好", "A fine film.")} == set(loaded)


def test_by_default_every_known_language_is_a_candidate() -> None:
    assert (detect("这家酒店很好"), detect("A fine film.")) == ("zh", "en")


def test_nothing_loaded_or_an_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="no language to route to"):
        Router.among([])
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        Router.among(["fr"])


def test_the_script_pattern_is_is_cjk_on_every_character() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert CJK_CHARACTER.findall(every) == [c for c in every if is_cjk(c)]
