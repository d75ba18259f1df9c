"""Where a worker's memory goes: ``python -m bench.memory [--members N] [--no-zh]``.

Loads the shipped checkpoints the way the service does (the same glibc setting, `Predictor.load`,
a warm-up prediction) and prints the process's resident and peak memory after each step. The
service's own figure under load is `make bench`'s peak RSS; this splits it by step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/<pid>/status (VmRSS: resident now, VmHWM: peak) in MB."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--members", type=int, default=None, help="English members to load (default: all)")
    p.add_argument("--no-zh", action="store_true", help="load the English model only")
    p.add_argument("--no-glibc-setting", action="store_true", help="leave glibc's mmap threshold as it is")
    args = p.parse_args(argv)

    def show(step: str) -> None:
        print(f"{step:<28} RSS {status_mb('VmRSS'):6.0f} MB   peak {status_mb('VmHWM'):6.0f} MB")

    import service.app  # noqa: F401  (everything the worker imports)
    from model.languages import language
    from service.predictor import Predictor

    show("imports")
    if not args.no_glibc_setting:
        from service import memory

        memory.return_large_blocks()
    models = [("en", language("en").checkpoint_path, args.members)]
    if not args.no_zh:
        models.append(("zh", language("zh").checkpoint_path, None))
    loaded = []
    for lang, path, members in models:
        predictor = Predictor.load(path, members=members)
        show(f"{lang} loaded")
        predictor.warm_up()
        show(f"{lang} warmed up")
        loaded.append(predictor)


if __name__ == "__main__":
    main()
