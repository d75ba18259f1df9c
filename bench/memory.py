"""Where a worker's memory goes: ``python -m bench.memory [--members N] [--no-zh]``.

Loads the shipped checkpoints the way the service does (the same glibc setting, `Predictor.load`,
a warm-up prediction) and prints the process's resident and peak memory after each step. The
service's own figure under load is `make bench`'s peak RSS; this splits it by step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--members", type=int, default=None, help="English members to load (default: all)")
    p.add_argument("--no-zh", action="store_true", help="load the English model only")
    p.add_argument("--no-glibc-setting", action="store_true", help="leave glibc's mmap threshold as it is")
    args = p.parse_args(argv)

    def show(step: str) -> None:
        now, peak = rss_mb()
        print(f"{step:<28} RSS {now:6.0f} MB   peak {peak:6.0f} MB")

    import service.app  # noqa: F401  (everything the worker imports)
    from service.predictor import Predictor

    show("imports")
    if not args.no_glibc_setting:
        from service import memory

        memory.return_large_blocks()
    models = [("en", ROOT / "model/artifacts/sentiment-rnn.pt", args.members)]
    if not args.no_zh:
        models.append(("zh", ROOT / "model/artifacts/sentiment-rnn-zh.pt", None))
    loaded = []
    for lang, path, members in models:
        predictor = Predictor.load(path, members=members)
        show(f"{lang} loaded")
        predictor.warm_up()
        show(f"{lang} warmed up")
        loaded.append(predictor)


if __name__ == "__main__":
    main()
