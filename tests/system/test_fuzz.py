"""Schema fuzzing: schemathesis drives a real server from the server's own /openapi.json.

All of schemathesis' checks run: no 5xx, every status code, content type, header and body is the
documented one, schema-valid input is accepted and invalid input rejected. A bounded number of
examples keeps the suite fast; `make fuzz` runs many more (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.system.test_server import start, stop, wait_ready

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "20")


def write_report(path: Path, stdout: str) -> None:
    import schemathesis

    summary = stdout[stdout.find("API Operations") :] if "API Operations" in stdout else stdout[-3000:]
    path.write_text(
        "# Schema fuzzing results\n\n"
        f"`make fuzz` (`FUZZ_EXAMPLES={EXAMPLES} pytest tests/system/test_fuzz.py`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: schemathesis {schemathesis.__version__} "
        f"against a real uvicorn server's own `/openapi.json`, every check (all are on by default), up to "
        f"{EXAMPLES} examples per operation, seed 20261126.\n\n```\n{summary.strip()}\n```\n"
    )


@pytest.mark.timeout(max(300, 2 * int(EXAMPLES)))  # `make fuzz` runs many examples
def test_schemathesis_finds_no_issue(tiny_checkpoint: Path, tmp_path: Path) -> None:
    proc, url = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "SENTIMENT_LOG_LEVEL": "warning"})
    # One rule JSON Schema cannot state: an infer tensor's shape must match its data's length (the
    # protocol's 400). Schema-valid requests that break it are refused, rightly; every other check runs.
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        '[[operations]]\ninclude-path = "/v2/models/{name}/infer"\nchecks.positive_data_acceptance.enabled = false\n'
    )
    try:
        wait_ready(proc, url)
        cli = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run(
            [
                str(cli),
                "--config-file",
                str(config),
                "run",
                f"{url}/openapi.json",  # every check runs: schemathesis enables all by default
                "--max-examples",
                EXAMPLES,
                "--seed",
                "20261126",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=max(600, 2 * int(EXAMPLES)),
            check=False,
        )
        if os.environ.get("FUZZ_REPORT"):  # `make fuzz` keeps the run's summary in the repo
            write_report(Path(os.environ["FUZZ_REPORT"]), run.stdout)
        assert run.returncode == 0, run.stdout[-4000:]
        assert "No issues found" in run.stdout
    finally:
        stop(proc)
