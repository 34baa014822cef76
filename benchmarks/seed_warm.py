"""Baseline process for ``fullcache warm``: load the benchmark table the seed's
way (``for obj in session.query(Model)`` into a dict by cache_key() and one
by id) and print the row count as JSON. Run by benchmarks/run.py.

    python benchmarks/seed_warm.py DATABASE_URL
"""

import json
import sys
import time

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench_models import BenchItem
from seed_style import SeedCache


def main(url: str) -> None:
    engine = create_engine(url)
    seed = SeedCache(BenchItem)
    with Session(engine) as session:
        started = time.perf_counter()
        seed.populate(session)
        seconds = time.perf_counter() - started
    print(json.dumps({"rows": len(seed.id_cache), "keys": len(seed.cache), "populate_seconds": seconds}))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
