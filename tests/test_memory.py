"""The memory figure warm reports agrees with what tracemalloc measures."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import sample_models
from fullcache_cli.memory import estimate_cache_bytes
from tests.helpers import fill_sample


@pytest.mark.parametrize("model", [sample_models.Genre, sample_models.ConfigurationSetting, sample_models.DeliveryMechanism])
def test_estimate_is_within_fifteen_percent_of_tracemalloc(database_url, model):
    engine = create_engine(fill_sample(database_url))
    try:
        with Session(engine) as session:
            model.populate_cache(session)  # compile and cache the statement first
            model.reset_cache()
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                model.populate_cache(session)
                session.close()
                gc.collect()
                retained = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
        estimate = estimate_cache_bytes(model._id_cache, model._cache)
        assert 0.85 < estimate / retained < 1.15, (estimate, retained)
    finally:
        model.reset_cache()
        engine.dispose()
