"""The training config: typed, validated, documented options; the shipped recipes as data; where runs write."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.languages import LANGUAGES, language
from model.recipe import TrainConfig, is_shipped, output_path, parse_args, parser, read_recipe, shipped_recipe


def test_every_option_has_one_line_of_help_and_typed_choices() -> None:
    p = parser()
    options = {a.dest: a for a in p._actions if a.option_strings and a.dest != "help"}
    assert set(TrainConfig.model_fields) | {"recipe"} == set(options)
    for name, action in options.items():
        assert action.help, name
        assert "\n" not in action.help, name
    assert set(options["pooling"].choices or ()) == {"last", "max", "last+max", "mean+max"}
    assert set(options["vectors"].choices or ()) == {"none", "word2vec", "word2vec+sentiment"}
    assert set(options["lang"].choices or ()) == set(LANGUAGES)
    assert "[en: 3, zh: 3]" in (options["members"].help or "")


@pytest.mark.parametrize(
    "argv",
    [
        ["--pooling", "lastmax"],  # a typo is refused, never trained as a fallback
        ["--vectors", "glove"],
        ["--lang", "fr"],
        ["--members", "0"],
        ["--dropout", "1.5"],
        ["--lang", "zh", "--vectors", "word2vec+sentiment"],  # zh has no labelled pre-training text
        ["--fgm", "1", "--freeze-embeddings"],  # FGM moves tables that would be frozen
    ],
)
def test_bad_values_are_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_recipes_and_flags() -> None:
    en = parse_args([])
    assert en.lang == "en"
    assert (en.members, en.vectors, en.freeze_embeddings, en.corpus) == (3, "word2vec+sentiment", True, "sst-treebank")
    assert (en.general_vectors, en.vocab_size, en.negations) == ("glove-6b-50d", 30000, 0)
    zh = parse_args(["--lang", "zh", "--members", "5", "--no-bidirectional"])
    assert (zh.members, zh.bidirectional, zh.bigram_min_freq, zh.fgm) == (5, False, 5, 1.0)
    dry = parse_args(["--dry-run", "--hidden-size", "8"])
    assert (dry.dry_run, dry.members, dry.epochs, dry.hidden_size, dry.vectors) == (True, 2, 1, 8, "none")


def test_shipped_recipes_are_small_files_of_known_options() -> None:
    for code, record in LANGUAGES.items():
        text = record.recipe_path.read_text()
        assert len(text.splitlines()) <= 40, "a recipe reads in one screen"
        values = shipped_recipe(code)
        assert values["lang"] == code
        TrainConfig(**values)


def test_an_unknown_option_in_a_recipe_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('lang = "en"\nschedule = "constant"\n')
    with pytest.raises(ValueError, match="unknown options schedule"):
        read_recipe(bad)


def test_only_a_full_run_of_a_shipped_recipe_writes_the_shipped_checkpoint(tmp_path: Path) -> None:
    full = parse_args([])
    assert is_shipped(full)
    assert output_path(full) == language("en").checkpoint_path
    assert is_shipped(parse_args(["--workers", "1", "--cache-dir", str(tmp_path)]))  # same weights
    dry = parse_args(["--dry-run"])
    assert not is_shipped(dry)
    path = output_path(dry)
    assert path.parent != language("en").checkpoint_path.parent
    assert path.parent.is_dir()
    assert path.parent.name.startswith("sentiment-rnn-dry-run-")
    with pytest.raises(ValueError, match="--out"):
        output_path(parse_args(["--members", "1"]))
    with pytest.raises(ValueError, match="shipped checkpoints"):
        output_path(parse_args(["--dry-run", "--out", str(language("en").checkpoint_path)]))
    assert output_path(parse_args(["--members", "1", "--out", str(tmp_path / "m.pt")])) == tmp_path / "m.pt"


def test_override_validates() -> None:
    cfg = TrainConfig()
    assert cfg.override(members=4).members == 4
    with pytest.raises(ValueError, match="pooling"):
        cfg.override(pooling="average")


def test_aliases_need_the_general_vectors() -> None:
    with pytest.raises(ValueError, match="aliases are chosen by the general vectors"):
        TrainConfig(lang="en", vectors="word2vec", general_vectors="none", aliases=10)
    assert TrainConfig(lang="en", vectors="word2vec", general_vectors="glove-6b-50d", aliases=10).aliases == 10
