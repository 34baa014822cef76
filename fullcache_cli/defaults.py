"""Defaults shared by the library and the command line.

Standard library only: the command line reads them to build its options,
and ``fullcache --help`` loads no SQLAlchemy.
"""

DEFAULT_MODELS = "sample_models"  # the models module when none is named
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds
DEFAULT_LIMIT = 20  # items of each list inspect and verify show people
DEFAULT_REPEAT = 1000  # lookups timed by lookup
DEFAULT_MERGE_CHECK_SECONDS = 20.0  # the merge check's budget per model
