"""STIX 2.1 object validation: the checks an import applies to every object.

Hand-written rather than the OASIS `stix2` library, which builds a Python
object per property and parses under 10,000 indicators/s (see bench/): these
checks are the spec's required properties and formats, in the order a
producer most often gets them wrong.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

SCO_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)

_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,248}[a-z0-9]")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_RE = re.compile(rf"([a-z0-9][a-z0-9-]*[a-z0-9])--{_UUID}")
_UUID_RE = re.compile(_UUID)
#: Object types already seen to be well formed: a set look-up instead of a regex per object.
_VALID_TYPES: set[str] = set()
_TIMESTAMP_RE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z")


class ObjectInvalid(ValueError):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Checked(NamedTuple):
    # A named tuple, not a frozen dataclass: built once per object on the
    # ingest hot path, where a frozen dataclass's __init__ costs three times as much.
    stix_id: str
    stix_type: str
    version_key: str
    marking_refs: tuple[str, ...]


#: The shape almost every producer writes (`2024-01-31T12:00:00.000Z`), in
#: ASCII digits: its key is a slice, a third of the cost of the general
#: expression's groups (0.34 against 0.63 µs a timestamp); a property test
#: holds the two to the same keys.
_MILLISECOND_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")

#: Recently seen timestamps of other shapes and their keys: an object's
#: created, modified and valid_from are usually one string.
_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_SIZE = 4096


def timestamp_key(value: object, field: str) -> str:
    """A STIX timestamp as a fixed-width string whose order is time order."""
    if isinstance(value, str) and _MILLISECOND_RE.fullmatch(value):
        return value[:23] + "000000Z"
    return general_timestamp_key(value, field)


def general_timestamp_key(value: object, field: str) -> str:
    """`timestamp_key` for any shape the spec allows (0 to 9 fractional digits)."""
    if not isinstance(value, str):
        raise ObjectInvalid(field, "must be a timestamp string like 2024-01-31T12:00:00.000Z")
    key = _KEY_CACHE.get(value)
    if key is not None:
        return key
    match = _TIMESTAMP_RE.fullmatch(value)
    if not match:
        raise ObjectInvalid(field, f"{value!r} is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)")
    key = f"{match.group(1)}.{(match.group(2) or '').ljust(9, '0')}Z"
    if len(_KEY_CACHE) >= _KEY_CACHE_SIZE:
        _KEY_CACHE.clear()
    _KEY_CACHE[value] = key
    return key


def _identifier(value: object, field: str, expected_type: str | None = None) -> str:
    if not isinstance(value, str):
        raise ObjectInvalid(field, "must be a STIX identifier string")
    match = _ID_RE.fullmatch(value)
    if not match:
        raise ObjectInvalid(field, f"{value!r} is not a STIX identifier (type--UUID)")
    if expected_type and match.group(1) != expected_type:
        raise ObjectInvalid(field, f"{value!r} must be a {expected_type} identifier")
    return value


def _require_str(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise ObjectInvalid(field, "is required and must be a non-empty string")
    return value


def _marking_refs(obj: dict[str, Any]) -> tuple[str, ...]:
    if "object_marking_refs" not in obj and "granular_markings" not in obj:
        return ()  # most objects carry no markings of their own
    refs = obj.get("object_marking_refs", ())
    if not isinstance(refs, list | tuple):
        raise ObjectInvalid("object_marking_refs", "must be a list of marking-definition ids")
    for position, ref in enumerate(refs):
        _identifier(ref, f"object_marking_refs[{position}]", "marking-definition")
    granular = obj.get("granular_markings")
    if granular is None:
        return tuple(refs)
    if not isinstance(granular, list):
        raise ObjectInvalid("granular_markings", "must be a list")
    extra: list[str] = []
    for position, item in enumerate(granular):
        where = f"granular_markings[{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("selectors"), list):
            raise ObjectInvalid(where, "must be an object with a selectors list")
        if "marking_ref" in item:
            extra.append(
                _identifier(item["marking_ref"], f"{where}.marking_ref", "marking-definition")
            )
    return (*refs, *extra)


def _check_versioning(obj: dict[str, Any], stix_type: str) -> str:
    """Checks created/modified and returns the version key."""
    if stix_type in SCO_TYPES:
        return ""  # SCOs are not versioned: one id, one version.
    created = obj.get("created")
    created_key = timestamp_key(created, "created")
    if stix_type == "marking-definition":
        return created_key
    modified = obj.get("modified")
    if modified == created:  # most objects are first versions: one string, one check
        return created_key
    modified_key = timestamp_key(modified, "modified")
    if modified_key < created_key:
        raise ObjectInvalid("modified", "must not be earlier than created")
    return modified_key


def _check_type_specific(obj: dict[str, Any], stix_type: str, version_key: str) -> None:
    """Checks of one type's required properties; `version_key` is the key of `modified`."""
    if stix_type == "indicator":
        _require_str(obj, "pattern")
        _require_str(obj, "pattern_type")
        valid_from_value = obj.get("valid_from")
        # Usually the modified timestamp, already checked: a comparison, not a second parse.
        valid_from = (
            version_key
            if valid_from_value == obj.get("modified")
            else timestamp_key(valid_from_value, "valid_from")
        )
        if "valid_until" in obj and timestamp_key(obj["valid_until"], "valid_until") <= valid_from:
            raise ObjectInvalid("valid_until", "must be later than valid_from")
    elif stix_type == "relationship":
        _require_str(obj, "relationship_type")
        _identifier(obj.get("source_ref"), "source_ref")
        _identifier(obj.get("target_ref"), "target_ref")
    elif stix_type == "sighting":
        _identifier(obj.get("sighting_of_ref"), "sighting_of_ref")
    if "created_by_ref" in obj:
        _identifier(obj["created_by_ref"], "created_by_ref", "identity")


def _object_id(obj: dict[str, Any], stix_type: str) -> str:
    """The object's id, checked to be `<its type>--<UUID>`."""
    value = obj.get("id")
    # The common case by slicing and one small regex, not the general id expression.
    if (
        isinstance(value, str)
        and len(value) == len(stix_type) + 38
        and value.startswith(stix_type)
        and value[len(stix_type) : len(stix_type) + 2] == "--"
        and _UUID_RE.fullmatch(value, len(stix_type) + 2)
    ):
        return value
    return _identifier(value, "id", stix_type)


def check_object(obj: object) -> Checked:
    """Validates one STIX 2.1 object; raises ObjectInvalid naming the field."""
    if not isinstance(obj, dict):
        raise ObjectInvalid(None, "is not a JSON object")
    stix_type = obj.get("type")
    if not isinstance(stix_type, str) or stix_type not in _VALID_TYPES:
        if not isinstance(stix_type, str) or not _TYPE_RE.fullmatch(stix_type):
            raise ObjectInvalid("type", "is required: lowercase letters, digits and hyphens")
        if stix_type == "bundle":
            raise ObjectInvalid("type", "a bundle cannot be nested inside a bundle")
        if len(_VALID_TYPES) < 1024:  # bounded: types come from untrusted input
            _VALID_TYPES.add(stix_type)
    stix_id = _object_id(obj, stix_type)
    spec_version = obj.get("spec_version")
    if spec_version != "2.1":
        if spec_version is None and stix_type not in SCO_TYPES:
            raise ObjectInvalid("spec_version", "is required (2.1) on SDOs, SROs and markings")
        if spec_version is not None:
            raise ObjectInvalid("spec_version", f"{spec_version!r} is not 2.1")
    version_key = _check_versioning(obj, stix_type)
    _check_type_specific(obj, stix_type, version_key)
    return Checked(stix_id, stix_type, version_key, _marking_refs(obj))


def marking_tlp_name(obj: dict[str, Any]) -> str | None:
    """The TLP level a marking-definition object defines, if it is a TLP marking."""
    if obj.get("definition_type") == "tlp":
        definition = obj.get("definition")
        if isinstance(definition, dict) and isinstance(definition.get("tlp"), str):
            return str(definition["tlp"])
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        for extension in extensions.values():
            if isinstance(extension, dict) and isinstance(extension.get("tlp_2_0"), str):
                return str(extension["tlp_2_0"])
    return None
