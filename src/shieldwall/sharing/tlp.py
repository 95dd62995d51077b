"""TLP 2.0 levels and the distribution vocabulary, with their STIX marking ids.

Levels are ordered integers so that "most restrictive" is `max()` and
"TLP at most" filters are a comparison, in Python and in SQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from shieldwall.errors import BadInput


class TLP(IntEnum):
    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "+")

    @classmethod
    def parse(cls, text: str) -> TLP:
        key = text.strip().lower().removeprefix("tlp:")
        level = _TLP_NAMES.get(key)
        if level is None:
            raise BadInput(
                f"unknown TLP level {text!r}; use clear, green, amber, amber+strict or red",
                where="tlp",
            )
        return level


_TLP_NAMES: dict[str, TLP] = {
    "clear": TLP.CLEAR,
    "white": TLP.CLEAR,  # TLP 1.0
    "green": TLP.GREEN,
    "amber": TLP.AMBER,
    "amber+strict": TLP.AMBER_STRICT,
    "amber-strict": TLP.AMBER_STRICT,
    "red": TLP.RED,
}

#: The FIRST TLP 2.0 marking definitions (STIX 2.1 extension) and the TLP 1.0
#: ones from the STIX 2.1 specification, mapped onto TLP 2.0.
TLP_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLP.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLP.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLP.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLP.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLP.RED,
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}

#: The TLP 2.0 marking-definition id for each level (what exports attach).
TLP2_MARKING_ID: dict[TLP, str] = {level: mid for mid, level in list(TLP_MARKING_IDS.items())[:5]}


class DistKind(IntEnum):
    ORG = 0
    GROUP = 1
    MEMBERS = 2
    PUBLIC = 3


@dataclass(frozen=True, slots=True)
class Distribution:
    """Who an object is shared with; `group_id` is set for GROUP only."""

    kind: DistKind
    group_id: int | None = None
    group_name: str | None = None

    def label(self) -> str:
        if self.kind is DistKind.GROUP:
            return f"group:{self.group_name}"
        return self.kind.name.lower()


def parse_distribution_text(text: str) -> tuple[DistKind, str | None]:
    """Split `org|members|public|group:NAME`; the group name is resolved later."""
    raw = text.strip()
    if raw.startswith("group:"):
        name = raw.removeprefix("group:").strip()
        if not name:
            raise BadInput("distribution group:NAME needs a group name", where="distribution")
        return DistKind.GROUP, name
    kinds = {"org": DistKind.ORG, "members": DistKind.MEMBERS, "public": DistKind.PUBLIC}
    if raw.lower() not in kinds:
        raise BadInput(
            f"unknown distribution {text!r}; use org, group:NAME, members or public",
            where="distribution",
        )
    return kinds[raw.lower()], None
