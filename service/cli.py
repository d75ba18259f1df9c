"""The ``sentiment-rnn`` command: serve the API, score texts and files, train, evaluate.

    sentiment-rnn serve [--host H] [--port P] [--workers N]   # = python -m service
    sentiment-rnn predict "A fine film." "Dull."                 # texts as arguments
    sentiment-rnn predict -f reviews.csv --column review > out.jsonl
    some-command | sentiment-rnn predict --format jsonl         # stdin
    sentiment-rnn train --lang en ...                            # = python -m model.train
    sentiment-rnn evaluate --lang en ...                         # = python -m model.evaluate

``predict`` loads the models in-process (those the service would serve: ``SENTIMENT_*``, or
``--checkpoint``) and writes one JSON line per text with the fields of a /predict answer, in input
order. Files are streamed, so memory does not grow with their size.

Exit codes of ``predict``: 0 every text scored; 1 a bad input stopped the run (``--on-error stop``,
the default; the answers before it were written); 2 a usage error (bad option, unreadable file,
unknown format, no such CSV column); 3 a model could not be loaded; 4 the run finished but skipped
bad inputs (``--on-error skip``); 130 interrupted. ``serve``, ``train`` and ``evaluate`` exit as
the programs they run.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import torch

from model.checkpoint import CheckpointError
from model.languages import LANGUAGES
from service.config import ModelSpec, Settings
from service.inputs import Format, InputError, Record, Source, format_of
from service.predictor import Predictor
from service.scoring import Options, Progress, Scorer

OK, STOPPED, USAGE, NO_MODEL, SKIPPED, INTERRUPTED = 0, 1, 2, 3, 4, 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sentiment-rnn",
        description="Sentiment analysis with a torch.nn.RNN: serve the API, score texts and files, train, evaluate.",
        epilog="`sentiment-rnn COMMAND --help` describes each command.",
    )
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the HTTP API (as python -m service)", description=_SERVE)
    serve.add_argument("--host", help="address to bind (SENTIMENT_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (SENTIMENT_PORT; default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (SENTIMENT_WORKERS; default 1)")
    predict_parser(
        commands.add_parser("predict", help="score texts, stdin or files to JSON Lines", description=_PREDICT)
    )
    for name, module in (("train", "model.train"), ("evaluate", "model.evaluate")):
        commands.add_parser(
            name, help=f"as python -m {module} (see `sentiment-rnn {name} --help`)", add_help=False, prefix_chars="\0"
        ).add_argument("args", nargs=argparse.REMAINDER)
    return p


_SERVE = "Run uvicorn with the settings of the SENTIMENT_* variables; the options override three of them."
_PREDICT = (
    "Score texts in-process and write one JSON line per text, with the fields of a /predict answer, in "
    "input order. Exit codes: 0 all scored; 1 stopped at a bad input; 2 usage error; 3 a model could not "
    "be loaded; 4 finished, bad inputs skipped; 130 interrupted."
)


def predict_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score (none and no --file: read stdin)")
    p.add_argument(
        "-f", "--file", type=Path, action="append", default=[], help="a .txt, .jsonl or .csv file; - for stdin"
    )
    p.add_argument(
        "--format", choices=["txt", "jsonl", "csv"], help="the input format (default: by file suffix; stdin: txt)"
    )
    p.add_argument("--column", default="text", help="the JSON field or CSV column holding the text (default: text)")
    p.add_argument("-o", "--output", type=Path, help="write JSON Lines here (default: stdout)")
    p.add_argument("--lang", choices=sorted(LANGUAGES), help="the language of every text (default: detected per text)")
    p.add_argument("--binary", action="store_true", help="a polar answer (negative or positive)")
    p.add_argument("--explain", action="store_true", help="add the per-token explanation")
    p.add_argument("--include-hidden", action="store_true", help="add the full final hidden state")
    p.add_argument("--sentences", action="store_true", help="add each sentence's answer with its offsets")
    p.add_argument(
        "--checkpoint", type=Path, action="append", help="a checkpoint to load (repeatable; default: as the service)"
    )
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default: 64)")
    p.add_argument("--on-error", choices=["stop", "skip"], default="stop", help="at a bad input (default: stop)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when it is a terminal)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command in ("train", "evaluate"):
        return delegate(args.command, args.args)
    try:
        return predict(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


def serve(args: argparse.Namespace) -> int:
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:
            os.environ[f"SENTIMENT_{name.upper()}"] = str(getattr(args, name))
    from service.__main__ import main as serve_main

    serve_main()
    return OK


def delegate(command: str, argv: list[str]) -> int:
    try:
        if command == "train":
            from model.train import main as run
        else:
            from model.evaluate import main as run
    except ImportError as exc:
        print(f"sentiment-rnn {command}: {exc}; install the extra: pip install 'sentiment-rnn[train]'", file=sys.stderr)
        return USAGE
    run(argv)
    return OK


def predict(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        predictors = load(args.checkpoint, settings)
    except CheckpointError as exc:
        print(f"sentiment-rnn predict: {exc}", file=sys.stderr)
        return NO_MODEL
    if args.lang is not None and args.lang not in predictors:
        print(
            f"sentiment-rnn predict: no model for --lang {args.lang!r}; loaded: {sorted(predictors)}", file=sys.stderr
        )
        return USAGE
    if args.batch_size < 1:
        print("sentiment-rnn predict: --batch-size must be at least 1", file=sys.stderr)
        return USAGE
    torch.set_num_threads(settings.torch_threads)
    options = Options(
        lang=args.lang,
        binary=args.binary,
        explain=args.explain,
        include_hidden=args.include_hidden,
        sentences=args.sentences,
        batch_size=args.batch_size,
        max_chars=settings.max_text_chars,
        max_explain_chars=settings.max_explain_chars,
        on_error=args.on_error,
    )
    scorer = Scorer(predictors, options)
    try:
        out = args.output.open("wb") if args.output else sys.stdout.buffer
    except OSError as exc:
        print(f"sentiment-rnn predict: {exc}", file=sys.stderr)
        return USAGE
    try:
        return score(scorer, args, out)
    except (InputError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"sentiment-rnn predict: {exc}", file=sys.stderr)
        return USAGE
    finally:
        out.flush()
        if args.output:
            out.close()


def score(scorer: Scorer, args: argparse.Namespace, out: BinaryIO) -> int:
    """Every source in turn; the exit code."""
    scored = skipped = 0
    show = sys.stderr.isatty() if args.progress is None else args.progress
    for name, records, source in sources(args):
        progress = Progress(source, show, offset=scored)
        summary = scorer.run(records, out, functools.partial(_report, name), progress)
        progress(summary.scored, final=True)
        scored += summary.scored
        skipped += summary.skipped
        if summary.stopped_at is not None:
            print(
                f"sentiment-rnn predict: stopped at {name}:{summary.stopped_at} (--on-error skip goes on)",
                file=sys.stderr,
            )
            return STOPPED
    if skipped:
        print(f"sentiment-rnn predict: {scored} texts scored, {skipped} bad inputs skipped", file=sys.stderr)
        return SKIPPED
    return OK


def _report(name: str, record: Record) -> None:
    print(f"{name}:{record.line}: {record.error}", file=sys.stderr)


def sources(args: argparse.Namespace) -> Iterator[tuple[str, Iterator[Record], Source | None]]:
    """(name, records, the file source if any) for the arguments, each file, or stdin."""
    if args.texts:
        yield "argument", (Record(i, t) for i, t in enumerate(args.texts, 1)), None
    paths: list[Path] = args.file or ([] if args.texts else [Path("-")])
    for path in paths:
        fmt: Format = args.format or ("txt" if str(path) == "-" else format_of(path, None))
        if str(path) == "-":
            source = Source("<stdin>", sys.stdin.buffer, fmt, args.column)
            yield source.name, source.records(), source
            continue
        with path.open("rb") as stream:
            source = Source(str(path), stream, fmt, args.column)
            yield source.name, source.records(), source


def load(checkpoints: list[Path] | None, settings: Settings) -> dict[str, Predictor]:
    """The models by language: ``checkpoints``, or those the service would serve."""
    specs = [ModelSpec(checkpoint=c) for c in checkpoints] if checkpoints else settings.models
    predictors: dict[str, Predictor] = {}
    for spec in specs:
        predictor = Predictor.load(spec.checkpoint, spec.sha256, spec.members)
        if predictor.ckpt.language in predictors:
            raise CheckpointError(f"two checkpoints for language {predictor.ckpt.language!r}: {spec.checkpoint}")
        predictors[predictor.ckpt.language] = predictor
    return predictors


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
