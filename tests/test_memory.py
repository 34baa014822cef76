"""The memory figure warm reports agrees with what tracemalloc measures."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

import sample_models
from fullcache_cli.memory import estimate_cache_bytes
from tests.helpers import fill_sample, retained_by_populate


@pytest.mark.parametrize("model", [sample_models.Genre, sample_models.ConfigurationSetting, sample_models.DeliveryMechanism])
def test_estimate_is_within_fifteen_percent_of_tracemalloc(database_url, model):
    engine = create_engine(fill_sample(database_url))
    try:
        retained = retained_by_populate(engine, model)
        estimate = estimate_cache_bytes(model._id_cache, model._cache)
        assert 0.85 < estimate / retained < 1.15, (estimate, retained)
    finally:
        model.reset_cache()
        engine.dispose()
