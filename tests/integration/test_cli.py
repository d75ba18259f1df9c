"""The ``sentiment-rnn`` command on a tiny real checkpoint: answers equal the API's, files stream, bad
lines are reported with their numbers, and each failure has its documented exit code."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service import cli
from service.config import Settings
from tests.conftest import assert_same_prediction
from tests.system.test_server import free_port

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["A gorgeous, witty film.", "Dull and far too long.", 'He said "fine", then left.', "naïve 😀 fun"]


def run(tiny: Path, *args: str | Path, out: Path) -> int:
    return cli.main(["predict", "--checkpoint", str(tiny), "-o", str(out), "--no-progress", *map(str, args)])


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def command(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The installed console script's code path, as a separate process (``python -m service.cli``)."""
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], input=stdin, capture_output=True, cwd=ROOT, env=full, timeout=120
    )


def test_answers_equal_the_apis(tiny_checkpoint: Path, client: TestClient, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run(tiny_checkpoint, *TEXTS, "--binary", out=out) == cli.OK
    got = lines(out)
    for text, answer in zip(TEXTS, got, strict=True):
        expected = client.post("/predict", json={"text": text, "binary": True}).json()
        assert set(answer) == set(expected)
        assert_same_prediction(answer, expected)


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "csv"])
def test_files_in_each_format_keep_the_input_order(
    tiny_checkpoint: Path, client: TestClient, tmp_path: Path, fmt: str
) -> None:
    texts = [f"{t} #{i}" for i in range(120) for t in TEXTS[:2]]  # windows of 128 with --batch-size 8
    texts[7] = "a line\nthat spans two lines"  # only CSV can hold a newline; the others get it split
    path = tmp_path / f"in.{fmt}"
    if fmt == "txt":
        texts[7] = texts[7].replace("\n", " ")
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    elif fmt == "jsonl":
        texts[7] = texts[7].replace("\n", " ")
        path.write_text(
            "".join(json.dumps({"review": t, "id": i}) + "\n" for i, t in enumerate(texts)), encoding="utf-8"
        )
    else:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "review"])
            writer.writerows([i, t] for i, t in enumerate(texts))
    out = tmp_path / "out.jsonl"
    column = [] if fmt == "txt" else ["--column", "review"]
    assert run(tiny_checkpoint, "-f", path, *column, "--batch-size", "8", out=out) == cli.OK
    got = lines(out)
    expected = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    assert len(got) == len(texts)
    for a, b in zip(got, expected, strict=True):
        assert_same_prediction(a, b)


def test_stdin_progress_and_the_console_script(tiny_checkpoint: Path) -> None:
    done = command("predict", "--checkpoint", str(tiny_checkpoint), "--progress", stdin=b"great\nawful\n")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["tokens"] for line in done.stdout.splitlines()] == [1, 1]
    assert "2 texts" in done.stderr.decode()
    assert "texts/s" in done.stderr.decode()


LIMIT = Settings.model_fields["max_text_chars"].default
BAD_TXT = b"fine\n   \nok\n" + b"\xff\xfe broken\n" + b"x" * (LIMIT + 1) + b"\ngood\n"
BAD_JSONL = b'{"text": "fine"}\n{"text": 3}\nnot json\n{"other": "x"}\n"a plain string"\n{"text": ""}\n'


@pytest.mark.parametrize(
    ("name", "content", "errors"),
    [
        (
            "in.txt",
            BAD_TXT,
            [
                "in.txt:2: text must contain at least one non-whitespace character",
                "in.txt:4: not valid UTF-8",
                f"in.txt:5: text is {LIMIT + 1} characters long; the limit is {LIMIT}",
            ],
        ),
        (
            "in.jsonl",
            BAD_JSONL,
            [
                "in.jsonl:2: 'text' is not a string",
                "in.jsonl:3: not valid JSON",
                "in.jsonl:4: no 'text' field",
                "in.jsonl:6: text must contain at least one non-whitespace character",
            ],
        ),
        ("in.csv", b'text\nfine\n\n"bad \xff"\nok\n', ["in.csv:3: empty row", "in.csv:4: not valid UTF-8"]),
    ],
)
def test_bad_lines_are_reported_then_skipped_or_stop_the_run(
    tiny_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: bytes,
    errors: list[str],
) -> None:
    (tmp_path / name).write_bytes(content)
    out = tmp_path / "out.jsonl"
    monkeypatch.chdir(tmp_path)  # so the reported names are the bare file names
    assert run(tiny_checkpoint, "-f", name, "--on-error", "skip", out=out) == cli.SKIPPED
    assert capsys.readouterr().err.splitlines()[: len(errors)] == errors
    good = len(lines(out))
    assert good >= 2
    assert run(tiny_checkpoint, "-f", name, out=out) == cli.STOPPED
    err = capsys.readouterr().err
    assert err.startswith(errors[0])
    assert f"stopped at {errors[0].split(': ')[0]}" in err
    assert len(lines(out)) == 1  # the answer before the first bad line was written


def test_usage_errors_and_a_missing_model(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    (tmp_path / "in.xml").write_text("<a/>")
    assert run(tiny_checkpoint, "-f", tmp_path / "in.xml", out=out) == cli.USAGE
    assert "unknown file type '.xml'" in capsys.readouterr().err
    (tmp_path / "in.csv").write_text("review\nfine\n")
    assert run(tiny_checkpoint, "-f", tmp_path / "in.csv", out=out) == cli.USAGE
    assert "no column 'text'; the header has ['review']" in capsys.readouterr().err
    assert run(tiny_checkpoint, "-f", tmp_path / "missing.txt", out=out) == cli.USAGE
    assert "No such file" in capsys.readouterr().err
    assert run(tiny_checkpoint, "--lang", "zh", "fine", out=out) == cli.USAGE
    assert "no model for --lang 'zh'; loaded: ['en']" in capsys.readouterr().err
    missing = cli.main(["predict", "--checkpoint", str(tmp_path / "nope.pt"), "fine"])
    assert missing == cli.NO_MODEL
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["predict", "--on-error", "ignore"])
    assert exc.value.code == cli.USAGE


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "serve"),
        (["predict"], "Exit codes: 0 all scored"),
        (["serve"], "SENTIMENT_HOST"),
        (["train"], "--recipe"),  # model.train's own help
        (["evaluate"], "--no-card"),
    ],
)
def test_help_on_each_command(args: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*args, "--help"])
    assert exc.value.code == 0
    assert expected in capsys.readouterr().out


def test_peak_memory_does_not_grow_with_the_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """Answers are written a window at a time: 20x the lines, about the same peak memory."""
    probe = (
        "import resource, sys; from service.cli import main; rc = main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)"
    )
    peaks = {}
    for n in (1_000, 20_000):
        path = tmp_path / f"in-{n}.txt"
        path.write_text("".join(f"{TEXTS[i % 4]} and then some more words, {i}\n" for i in range(n)), encoding="utf-8")
        args = ["predict", "--checkpoint", str(tiny_checkpoint), "-f", str(path), "-o", str(tmp_path / "out.jsonl")]
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        peaks[n] = int(done.stderr.decode().split()[-1])  # KiB
        assert (tmp_path / "out.jsonl").read_bytes().count(b"\n") == n
    assert peaks[20_000] - peaks[1_000] < 16 * 1024, peaks  # holding the answers would take about 100 MB


def test_serve_runs_the_service(tiny_checkpoint: Path) -> None:
    port = free_port()
    env = {**os.environ, "SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "SENTIMENT_CHECKPOINT_ZH": "none"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(f"http://127.0.0.1:{port}/predict", json={"text": "fine"})
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
