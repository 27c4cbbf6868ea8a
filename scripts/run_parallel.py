"""Run several commands at once and fail if any fails.

`spacy project` runs a command's script lines one after another, without a
shell. spaCy's CNN training uses one core, so on a 2-core machine the two
baseline trainings run side by side through this script. Each command's output
goes to its own log file (``--logs DIR``), named after the command's ``--output``
folder when it has one (``training/deid_cnn`` -> ``deid_cnn.log``, so the logs of
different workflows do not overwrite each other), else ``job<N>.log``, and is
summarized when it ends.

    python scripts/run_parallel.py --logs training/logs "cmd one ..." "cmd two ..."
"""
from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger("run_parallel")


def log_name(argv: list[str], i: int) -> str:
    """``<output folder name>.log`` for a command with ``--output DIR``, else ``job<i>.log``."""
    if "--output" in argv[:-1]:
        name = Path(argv[argv.index("--output") + 1]).name
        if name:
            return f"{name}.log"
    return f"job{i}.log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="+", help="commands, each one quoted string")
    parser.add_argument("--logs", type=Path, default=Path("training/logs"), help="folder for the logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.logs.mkdir(parents=True, exist_ok=True)
    running = []
    for i, command in enumerate(args.commands):
        argv_i = shlex.split(command)
        if argv_i and argv_i[0] == "python":
            argv_i[0] = sys.executable  # the interpreter spacy project runs us with
        log_path = args.logs / log_name(argv_i, i)
        handle = log_path.open("w", encoding="utf-8")
        logger.info("start job%d: %s (log: %s)", i, command, log_path)
        running.append((i, command, subprocess.Popen(argv_i, stdout=handle, stderr=subprocess.STDOUT), handle, time.time()))
    failed = 0
    while running:
        for job in list(running):
            i, command, process, handle, started = job
            code = process.poll()
            if code is None:
                continue
            running.remove(job)
            handle.close()
            logger.info("job%d ended with exit code %d after %.0f s", i, code, time.time() - started)
            if code != 0:
                failed += 1
                tail = Path(handle.name).read_text(encoding="utf-8").splitlines()[-20:]
                logger.error("job%d failed: %s\n%s", i, command, "\n".join(tail))
        time.sleep(1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
