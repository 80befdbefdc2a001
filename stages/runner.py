"""The common skeleton of a stage's `__main__`: user errors print one clear line, no traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from netinv.errors import NetinvError
from stages.config import ParamsError
from stages.tracking import check_reachable

USER_ERRORS = (NetinvError, ParamsError, ValueError, FileNotFoundError)


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    p.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    return p


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("alembic", "mlflow", "great_expectations", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        check_reachable()
        main(argv)
    except USER_ERRORS as exc:
        if os.environ.get("NETINV_TRACEBACK"):
            raise
        print(f"error: {exc}\n(set NETINV_TRACEBACK=1 for the full traceback)", file=sys.stderr)
        sys.exit(1)
