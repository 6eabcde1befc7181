"""Property tests of every parser of untrusted input: Hypothesis profiles and hostile strategies.

Each parser is tried with what an attacker or a buggy producer can put in a queue: arbitrary
text, arbitrary JSON, bodies nested far deeper than the parser recurses, numbers past Python's
integer-conversion limit, NUL and lone surrogates (as JSON escapes, since SQS carries only XML
characters), oversize fields, and valid bodies with one value swapped for any of those. The
only outcomes allowed are a parsed value or the module's own "invalid" error.

Profiles, chosen with HYPOTHESIS_PROFILE:
- `short` (default, the normal suite): a few hundred examples per parser, derandomized so CI
  sees the same examples every run, no example database;
- `fuzz` (`./run fuzz`): many more examples, random each run, failures kept in .hypothesis/ and
  replayed first next time.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES_SHORT = 75  # per test; each parser has three (validate two), so 150-225 per parser
settings.register_profile(
    "short",
    max_examples=EXAMPLES_SHORT,
    derandomize=True,
    database=None,
    deadline=None,  # a shared 2-core CI machine: timing is not the property
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))

PYTHON_INT_DIGITS = 4300  # sys.get_int_max_str_digits(): int() of more raises ValueError

# Characters a JSON string can carry: every category, surrogates included, and the usual suspects.
hostile_characters = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(categories=["Cs"]),  # lone surrogates: \ud800 in JSON parses to one
    st.sampled_from(["\x00", "\ud800", "\udfff", "\ufeff", "\u2028", "\u202e", "\U0010ffff"]),
)
hostile_strings = st.one_of(
    st.text(hostile_characters, max_size=80),
    # oversize: one character repeated far past any field's limit
    st.builds(lambda c, n: c * n, hostile_characters, st.integers(65, 300_000)),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**300) | st.integers(max_value=-(10**18)),
    st.integers(min_value=10**308, max_value=10 ** (PYTHON_INT_DIGITS - 1)),  # past float's range
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_strings,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_strings, inner, max_size=4),
    max_leaves=12,
)

# Raw JSON text no json.dumps of a Python value writes, but any producer can send.
deep = st.integers(900, 60_000)
raw_tokens = st.one_of(
    deep.map(lambda n: "[" * n + "]" * n),
    deep.map(lambda n: '{"a":' * n + "1" + "}" * n),
    deep.map(lambda n: "[" * n),  # unterminated
    st.integers(PYTHON_INT_DIGITS - 10, 3 * PYTHON_INT_DIGITS).map(lambda n: "9" * n),
    st.integers(PYTHON_INT_DIGITS - 10, 3 * PYTHON_INT_DIGITS).map(lambda n: "-" + "1" * n),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0", "1E-400", "0.0000001e-999"]),
    st.sampled_from(['"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', '"a\\u0000b"']),
)
PLACEHOLDER = "\x01hostile\x01"


def any_text() -> st.SearchStrategy[str]:
    """Arbitrary text, and the raw tokens alone."""
    return st.one_of(st.text(hostile_characters, max_size=200), raw_tokens)


def any_json() -> st.SearchStrategy[str]:
    """Any JSON document json.dumps can write (lone surrogates and NUL become escapes)."""
    return st.one_of(
        json_values.map(json.dumps),
        json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    )


def _paths(value, prefix=()) -> list[tuple]:
    """Every path (keys and indexes) into a JSON value, the root excluded."""
    found = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for key, inner in items:
        found.append((*prefix, key))
        found += _paths(inner, (*prefix, key))
    return found


_DELETE = object()


def _replaced(value, path: tuple, new):
    """`value` with the value at `path` replaced by `new` (removed if `new` is _DELETE)."""
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        copy = dict(value)
        if new is _DELETE and not rest:
            copy.pop(head)
        else:
            copy[head] = _replaced(value[head], tuple(rest), new)
        return copy
    copy = list(value)
    if new is _DELETE and not rest:
        del copy[head]
    else:
        copy[head] = _replaced(value[head], tuple(rest), new)
    return copy


def near(valid: dict) -> st.SearchStrategy[str]:
    """`valid` as JSON with one value replaced (by any JSON value or a raw token), removed, or
    joined by an extra field: what a buggy producer sends most often."""
    paths = _paths(valid)

    @st.composite
    def mutated(draw) -> str:
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["value", "raw", "delete", "extra"]))
        if how == "value":
            return json.dumps(_replaced(valid, path, draw(json_values)))
        if how == "raw":
            text = json.dumps(_replaced(valid, path, PLACEHOLDER))
            return text.replace(json.dumps(PLACEHOLDER), draw(raw_tokens), 1)
        if how == "delete":
            return json.dumps(_replaced(valid, path, _DELETE))
        return json.dumps({**valid, draw(hostile_strings): draw(json_values)})

    return mutated()


def outcome(parse, body, invalid: type[Exception]):
    """`parse(body)`, or None when it raises `invalid`; any other exception fails the test."""
    try:
        return parse(body)
    except invalid:
        return None
