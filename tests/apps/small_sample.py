"""The built-in sample (sample_models) at a small scale, five libraries, for
tests that need its models but not its size."""

import sample_models
from tests.apps import reset_caches

MODELS = [sample_models.DataSource, sample_models.Genre, sample_models.DeliveryMechanism,
          sample_models.Library, sample_models.ConfigurationSetting]


def fill(engine):
    """The sample's tables, with the rows of five libraries."""
    sample_models.create_sample(engine, libraries=5)


def reset_all():
    """Every model's caches cleared."""
    reset_caches(MODELS)
