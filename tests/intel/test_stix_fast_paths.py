"""The fast paths of STIX validation give exactly what the general checks give.

`timestamp_key` reads the commonest timestamp shape (`...T12:00:00.000Z`) by
slicing and leaves every other text to the general expression; the version
order of the store rests on those keys, so the two must agree on every text:
the same key, or the same refusal.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from shieldwall.intel.stix import ObjectInvalid, check_object, general_timestamp_key, timestamp_key


def _outcome(function: object, value: object) -> tuple[str, str | None]:
    assert callable(function)
    try:
        return ("key", function(value, "modified"))
    except ObjectInvalid as exc:
        return ("invalid", f"{exc.field}: {exc.reason}")


# Digits (ASCII and not), the separators, and characters near them.
_timestamp_chars = st.sampled_from([*"0123456789-T:.Z", "z", " ", "٣", "\n", "+"])


@st.composite
def _timestamp_like(draw: st.DrawFn) -> str:
    """Texts around the millisecond shape: mostly valid, often one edit away."""
    text = draw(st.datetimes()).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = draw(st.text(st.sampled_from("0123456789"), max_size=10))
    text += f".{fraction}Z" if fraction or draw(st.booleans()) else "Z"
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text)))
        replace = draw(st.integers(0, 1))
        text = text[:position] + draw(_timestamp_chars) + text[position + replace :]
    return text


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_timestamp_like(), st.text(_timestamp_chars, max_size=30)))
@example("2024-01-31T12:00:00.000Z")
@example("2024-01-31T12:00:00.000z")
@example("2024-01-31T12:00:00.00٣Z")
@example("2024-01-31T12:00:00.000Z\n")
def test_timestamp_fast_path_agrees_with_the_general_expression(text: str) -> None:
    assert _outcome(timestamp_key, text) == _outcome(general_timestamp_key, text)


@given(st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2)))
def test_a_timestamp_that_is_no_string_is_refused_alike(value: object) -> None:
    assert _outcome(timestamp_key, value) == _outcome(general_timestamp_key, value)
    assert _outcome(timestamp_key, value)[0] == "invalid"


def _indicator(created: str, modified: str, valid_from: str) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--6f1a1f3e-0c43-4a57-9d59-7a1b0a1c0001",
        "created": created,
        "modified": modified,
        "valid_from": valid_from,
        "valid_until": "2024-01-01T00:00:00.5Z",
        "pattern": "[ipv4-addr:value = '198.51.100.1']",
        "pattern_type": "stix",
    }


_instants = st.sampled_from(
    [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T00:00:00.5Z",
        "2024-01-01T00:00:00.500Z",
        "2024-01-01T00:00:01.000Z",
        "2024-01-01T00:00:00.000000001Z",
        "not a time",
    ]
)


@settings(max_examples=500, deadline=None)
@given(_instants, _instants, _instants)
def test_valid_from_equal_to_modified_is_judged_as_if_parsed(
    created: str, modified: str, valid_from: str
) -> None:
    """`valid_from` borrows `modified`'s key when the texts are equal: the verdict of parsing it."""
    obj = _indicator(created, modified, valid_from)
    try:
        checked = check_object(obj)
    except ObjectInvalid as exc:
        verdict: tuple[str, str | None] = ("invalid", f"{exc.field}: {exc.reason}")
    else:
        verdict = ("valid", checked.version_key)
    assert verdict == _expected_verdict(created, modified, valid_from)


def _expected_verdict(created: str, modified: str, valid_from: str) -> tuple[str, str | None]:
    """The rules of created/modified/valid_from/valid_until, each timestamp parsed on its own."""
    try:
        created_key = general_timestamp_key(created, "created")
        version_key = created_key
        if modified != created:
            version_key = general_timestamp_key(modified, "modified")
            if version_key < created_key:
                return ("invalid", "modified: must not be earlier than created")
        valid_from_key = general_timestamp_key(valid_from, "valid_from")
    except ObjectInvalid as exc:
        return ("invalid", f"{exc.field}: {exc.reason}")
    if general_timestamp_key("2024-01-01T00:00:00.5Z", "valid_until") <= valid_from_key:
        return ("invalid", "valid_until: must be later than valid_from")
    return ("valid", version_key)
