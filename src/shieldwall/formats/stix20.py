"""STIX 2.0 in: bundles upgraded object by object to STIX 2.1, then ingested as such.

The upgrade (STIX 2.1 specification, section 1.6 and the types that changed):
- `spec_version: "2.1"` on every object (2.0 put one on the bundle only);
- `labels` of indicator, malware, report, threat-actor and tool become their
  2.1 `*_types` vocabulary property; an indicator gets `pattern_type: stix`,
  a malware `is_family: true` (2.0 malware objects describe families);
- observed-data's embedded `objects` dictionary becomes SCOs of their own,
  referred to by `object_refs`, with their `*_ref(s)` rewritten to the new
  ids. SCO ids are the 2.1 deterministic ones (UUIDv5 over the id
  contributing properties) where those are plain values, so the same address
  seen twice is one object.

What 2.1 would refuse and no upgrade can repair is refused with the object's
index and field: `identity_class` given as a list, `last_seen` before
`first_seen`, an embedded object that is not a dictionary.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import IO, Any

from shieldwall.formats.common import Conversion
from shieldwall.intel.ingest import iter_bundle
from shieldwall.intel.stix import ObjectInvalid

#: The STIX 2.1 namespace for deterministic SCO identifiers (section 2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

#: The id contributing properties of SCOs whose ids this upgrade derives.
_ID_PROPERTIES = {
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "domain-name": ("value",),
    "url": ("value",),
    "email-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "autonomous-system": ("number",),
    "windows-registry-key": ("key", "values"),
    "file": ("hashes", "name"),
}
_LABELS_TO_TYPES = {
    "indicator": "indicator_types",
    "malware": "malware_types",
    "report": "report_types",
    "threat-actor": "threat_actor_types",
    "tool": "tool_types",
}
_SEEN = {
    "campaign": ("first_seen", "last_seen"),
    "intrusion-set": ("first_seen", "last_seen"),
    "threat-actor": ("first_seen", "last_seen"),
    "observed-data": ("first_observed", "last_observed"),
}


def sco_id(sco: dict[str, Any], fallback: str) -> str:
    """The 2.1 deterministic id of an SCO, or one derived from `fallback` when it has none."""
    stix_type = str(sco["type"])
    names = _ID_PROPERTIES.get(stix_type, ())
    contributing = {name: sco[name] for name in names if name in sco}
    if contributing and not any("_ref" in name for name in contributing):
        # JSON canonicalisation (RFC 8785) for the strings, numbers and
        # dictionaries of these properties is sorted keys, no spaces, UTF-8.
        canonical = json.dumps(
            contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return f"{stix_type}--{uuid.uuid5(SCO_NAMESPACE, canonical)}"
    return f"{stix_type}--{uuid.uuid5(SCO_NAMESPACE, fallback)}"


def upgrade_object(obj: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """`(embedded SCOs as (key, sco), the upgraded object)`; ObjectInvalid names the field."""
    upgraded = dict(obj)
    stix_type = upgraded.get("type")
    upgraded["spec_version"] = "2.1"
    labels_to = _LABELS_TO_TYPES.get(str(stix_type))
    if labels_to and "labels" in upgraded and labels_to not in upgraded:
        upgraded[labels_to] = upgraded.pop("labels")
    if stix_type == "indicator":
        upgraded.setdefault("pattern_type", "stix")
    elif stix_type == "malware":
        upgraded.setdefault("is_family", True)
    elif stix_type == "identity" and not isinstance(upgraded.get("identity_class", ""), str):
        found = upgraded["identity_class"]
        raise ObjectInvalid(
            "identity_class", f"must be one string of the identity-class vocabulary, not {found!r}"
        )
    _check_seen(upgraded, str(stix_type))
    embedded: list[tuple[str, dict[str, Any]]] = []
    if stix_type == "observed-data" and "objects" in upgraded:
        embedded = _embedded_scos(upgraded)
    return embedded, upgraded


def _check_seen(obj: dict[str, Any], stix_type: str) -> None:
    first_name, last_name = _SEEN.get(stix_type, ("", ""))
    first, last = obj.get(first_name), obj.get(last_name)
    # Same-format STIX timestamps compare as strings; mixed precision is rare
    # enough here that the ingest's own checks judge the rest.
    if isinstance(first, str) and isinstance(last, str) and last[:19] < first[:19]:
        raise ObjectInvalid(last_name, f"{last} is earlier than {first_name} {first}")


def _embedded_scos(observed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    objects = observed.pop("objects")
    if not isinstance(objects, dict) or not objects:
        raise ObjectInvalid("objects", "must be a non-empty dictionary of cyber observables")
    for key, sco in objects.items():
        if not isinstance(sco, dict) or not isinstance(sco.get("type"), str):
            raise ObjectInvalid(f"objects.{key}", "is not a cyber observable object")
    new_ids = {key: sco_id(sco, f"{observed.get('id')}/{key}") for key, sco in objects.items()}
    scos = [(key, _sco(sco, new_ids[key], new_ids)) for key, sco in objects.items()]
    observed["object_refs"] = list(dict.fromkeys(new_ids.values()))
    return scos


def _sco(sco: dict[str, Any], stix_id: str, new_ids: dict[str, str]) -> dict[str, Any]:
    upgraded: dict[str, Any] = {"id": stix_id, "spec_version": "2.1"}
    for name, value in sco.items():
        if name.endswith("_refs") and isinstance(value, list):
            upgraded[name] = [new_ids.get(str(ref), ref) for ref in value]
        elif name.endswith("_ref"):
            upgraded[name] = new_ids.get(str(value), value)
        else:
            upgraded[name] = value
    return upgraded


class Stix20Mapper:
    """Yields the upgraded objects of one STIX 2.0 bundle."""

    def __init__(self, conversion: Conversion) -> None:
        self.conversion = conversion

    def objects(self, stream: IO[bytes]) -> Iterator[dict[str, Any]]:
        for index, obj in enumerate(iter_bundle(stream)):
            if not isinstance(obj, dict):
                self.conversion.emitted(index)
                yield obj  # the ingest refuses it with its own words
                continue
            try:
                embedded, upgraded = upgrade_object(obj)
            except ObjectInvalid as exc:
                stix_id = obj.get("id")
                self.conversion.refuse(
                    index, stix_id if isinstance(stix_id, str) else None, exc.field, exc.reason
                )
                continue
            for key, sco in embedded:
                self.conversion.emitted(index, f"objects.{key}")
                yield sco
            self.conversion.emitted(index)
            yield upgraded
