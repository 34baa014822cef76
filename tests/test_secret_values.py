"""Which values of the user's rows are secrets (masking.py), and the
figures a lookup report gives when the cache is slower than the database:
pure functions, no database."""

from __future__ import annotations

import pytest

from fullcache_cli.masking import MASK, mask_row, names_secret, secret_columns
from fullcache_cli.reports import Lookups, LookupReport, ModelReport


@pytest.mark.parametrize("name", [
    "secret_key", "SECRET_KEY", "password", "password_hash", "apiKey", "api_keys", "key", "auth-token",
    "signature", "credentials", "passwd", "db.pass",
])
def test_names_of_secrets(name):
    assert names_secret(name)


@pytest.mark.parametrize("name", [
    "website", "featured-lane-size", "help-email", "username", "website_id", "keyboard", "passenger",
    "monkey", "ils_name", "external_account_id", "base_url", "", None, 3,
])
def test_names_that_are_not_secrets(name):
    assert not names_secret(name)


def test_a_settings_row_masks_its_value_by_the_settings_name_never_the_name_itself():
    assert secret_columns({"id": 1, "key": "secret_key", "value": "s3"}) == {"value"}
    assert secret_columns({"id": 2, "key": "website", "value": "https://x"}) == set()
    assert secret_columns({"id": 3, "name": "password", "value": "pw"}) == {"value"}
    # A column named like a secret beside them still is one.
    assert secret_columns({"key": "website", "value": "v", "api_token": "t"}) == {"api_token"}


def test_columns_named_like_secrets_outside_settings_rows():
    assert secret_columns({"id": 1, "email": "a@b", "password_hash": "h"}) == {"password_hash"}
    # Without a value column, a column named key is a key.
    assert secret_columns({"id": 1, "key": "k"}) == {"key"}


def test_mask_row_masks_set_secrets_and_keeps_the_rest():
    row = {"id": 1, "key": "secret_key", "value": "s3"}
    assert mask_row(row) == {"id": 1, "key": "secret_key", "value": MASK}
    assert mask_row(row, show=True) == row
    assert mask_row({"password": None, "id": 2}) == {"password": None, "id": 2}


def test_speedup_is_the_real_ratio_never_zero():
    slow = LookupReport("db", "M", "k", "key", found=True, cache_us=60_000.0, db_us=130.0)
    assert slow.speedup == pytest.approx(130 / 60_000, rel=0.01) and slow.speedup > 0
    assert slow.to_json()["speedup"] == slow.speedup
    assert LookupReport("db", "M", "k", "key", cache_us=1.0, db_us=130.0).speedup == 130.0
    assert LookupReport("db", "M", "k", "key", cache_us=None, db_us=130.0).speedup is None


def _model(lookups: Lookups) -> ModelReport:
    return ModelReport("M", "m", "own", "app.Mixin", lookups=lookups)


def test_slow_hit_names_both_figures():
    slow = Lookups(10, 57_000.0, 80_000.0, 140.0, 900.0, first_hit_samples=8, first_hit_p50_us=61_000.0,
                   first_hit_p99_us=90_000.0, db_samples=50)
    (problem,) = _model(slow).problems()
    assert problem.kind == "slow_hit"
    assert problem.error == (
        "hits take 57.00 ms (p50 of 10, 407x slower) and first hits in a new session take 61.00 ms "
        "(p50 of 8, 436x slower) than a primary-key query: 140.0 µs (p50 of 50)"
    )


def test_a_slow_first_hit_alone_is_a_slow_hit_and_fast_hits_are_not():
    first_only = Lookups(200, 1.0, 2.0, 140.0, 300.0, first_hit_samples=200, first_hit_p50_us=400.0, db_samples=50)
    (problem,) = _model(first_only).problems()
    assert problem.error.startswith("first hits in a new session take 400.0 µs (p50 of 200, 2.86x slower)")
    fast = Lookups(200, 1.0, 2.0, 140.0, 300.0, first_hit_samples=200, first_hit_p50_us=20.0, db_samples=50)
    assert _model(fast).problems() == []
    untimed = Lookups(200, 1.0, 2.0, None, None, first_hit_samples=200, first_hit_p50_us=20.0)
    assert _model(untimed).problems() == []


def test_colliding_rows_say_a_secret_differs_never_what_it_is():
    from fullcache_cli.row_values import differing_columns
    from tests.apps.circulation import Admin, ConfigurationSetting

    admins = [Admin(id=1, email="a@example.org", password_hash="$2b$1"),
              Admin(id=2, email="a@example.org", password_hash="$2b$2")]
    assert differing_columns(admins) == {"password_hash": [MASK, MASK]}
    settings = [ConfigurationSetting(id=1, key="secret_key", value="one"),
                ConfigurationSetting(id=2, key="secret_key", value="two")]
    assert differing_columns(settings) == {"value": [MASK, MASK]}
    plain = [ConfigurationSetting(id=1, key="website", value="https://a"),
             ConfigurationSetting(id=2, key="website", value="https://b")]
    assert differing_columns(plain) == {"value": ["https://a", "https://b"]}
