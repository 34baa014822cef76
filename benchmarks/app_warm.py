"""Baseline process for ``fullcache warm`` on a real application's models:
every cached model's own ``populate_cache`` in one session, as the
application does at start-up (``tests.apps.circulation``), and the rows
cached, as JSON. Run by ``benchmarks/run.py --app circulation``.

    python benchmarks/app_warm.py DATABASE_URL
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.apps import circulation  # noqa: E402


def main(url: str) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        circulation.warm_as_the_application_does(session)
        seconds = time.perf_counter() - started
    rows = sum(len(model._id_cache) for model in circulation.CACHED)
    print(json.dumps({"rows": rows, "populate_seconds": seconds}))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
