"""Reading KEY the way the cache's keys are typed (properties with hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fullcache_cli.errors import UsageError
from fullcache_cli.keys import key_type, key_types, parse_key, require_key
from fullcache_cli.reports import format_key

scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.none(),
)
keys = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.tuples(scalars, scalars),
    st.tuples(scalars, scalars, scalars),
)


@given(keys)
def test_a_formatted_key_reads_back_as_itself(key):
    readings = parse_key(format_key(key), [key_type(key)])
    assert readings == [key]
    assert type(readings[0]) is type(key)


@given(st.lists(keys, min_size=1, max_size=8), st.text(max_size=30))
def test_every_reading_fits_a_shape_of_the_cache(cache_keys, text):
    shapes = list(key_types(cache_keys))
    for reading in parse_key(text, shapes):
        assert key_type(reading) in shapes


def test_shapes():
    assert key_type(("a", None)) == "tuple[str, None]"
    assert key_type((1, None, "k")) == "tuple[int, None, str]"
    assert key_types(["a", "b", ("x", 1)]) == {"str": 2, "tuple[str, int]": 1}


def test_text_int_float_and_tuples_are_coerced():
    assert parse_key("42", ["int"]) == [42]
    assert parse_key("42", ["str", "int"]) == ["42", 42]
    assert parse_key("2.5", ["float"]) == [2.5]
    assert parse_key('["application/epub+zip", "Adobe DRM"]', ["tuple[str, str]"]) == [
        ("application/epub+zip", "Adobe DRM")
    ]
    assert parse_key('[3, null, "website"]', ["tuple[int, None, str]", "tuple[int, int, str]"]) == [
        (3, None, "website")
    ]
    assert parse_key('["3", null, "website"]', ["tuple[int, None, str]"]) == [(3, None, "website")]
    assert parse_key("[1, 2]", ["tuple[str, str]"]) == []
    assert parse_key("abc", ["int", "tuple[str, str]"]) == []


def test_a_key_of_no_type_is_a_usage_error_with_real_examples():
    cache = {("a", "b"): 1, ("c", None): 2, ("d", "e"): 3, ("f", "g"): 4}
    with pytest.raises(UsageError) as caught:
        require_key("abc", cache, "Model's cache")
    message = str(caught.value)
    assert "key 'abc' fits no key type of Model's cache (tuple[str, str], tuple[str, None])" in message
    assert '\'["a", "b"]\', \'["c", null]\', \'["d", "e"]\'' in message
