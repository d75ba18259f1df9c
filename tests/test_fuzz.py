"""Schema fuzzing: schemathesis drives a real server from the server's own /openapi.json.

All of schemathesis' checks run: no 5xx, every status code, content type, header and body is the
documented one, schema-valid input is accepted and invalid input rejected. A bounded number of
examples keeps the suite fast; `make fuzz` runs many more (FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_server import start, stop, wait_ready

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "20")


def test_schemathesis_finds_no_issue(tiny_checkpoint: Path) -> None:
    proc, url = start({"SENTIMENT_CHECKPOINT": str(tiny_checkpoint), "SENTIMENT_LOG_LEVEL": "warning"})
    try:
        wait_ready(proc, url)
        cli = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run(
            [
                str(cli),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                EXAMPLES,
                "--seed",
                "20261126",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-4000:]
        assert "No issues found" in run.stdout
    finally:
        stop(proc)
