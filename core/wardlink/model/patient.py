"""Patient context: the raw-PHI type.

A codec splits everything it learns about the patient (and about relatives,
employers, visits) into a ``PatientContext``. The type exists so that the rest of
the gateway can *link* an observation to a patient locally (for pseudonyms, for the
technician UI on the same machine) without ever being able to send it anywhere:
every serialization path raises ``PHIBoundaryError`` and its ``repr`` shows nothing.

Each context registers its values, weakly, in the process's ``LIVE_PATIENTS``
(``model.live_patients``) as it is built: the log filter removes them from every log
line for as long as the context lives. Registering here, where every context is
born, means no codec can forget to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from wardlink.model.errors import PHIBoundaryError
from wardlink.model.live_patients import LIVE_PATIENTS


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise PHIBoundaryError("PatientContext holds raw PHI and can never be serialized")


class RelatedPerson(BaseModel):
    """A relative, employer or household member (HL7 NK1, ASTM P-record fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    relationship: str | None = None
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    employer: str | None = None

    @model_serializer(mode="plain")
    def _never(self) -> dict[str, Any]:
        _refuse()

    def __repr__(self) -> str:
        return "RelatedPerson(<phi>)"

    __str__ = __repr__


class PatientContext(BaseModel):
    """Everything identifying about the patient attached to a device reading."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patient_id: str | None = Field(default=None, description="MRN or other local id")
    id_type: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    phone: str | None = None
    address: str | None = None
    ssn: str | None = None
    account_number: str | None = None
    location: str | None = Field(default=None, description="ward/room/bed (PV1-3)")
    attending: str | None = None
    related: tuple[RelatedPerson, ...] = ()
    extra: dict[str, str] = Field(default_factory=dict)

    @model_serializer(mode="plain")
    def _never(self) -> dict[str, Any]:
        _refuse()

    def model_post_init(self, context: Any, /) -> None:
        LIVE_PATIENTS.hold(self, self.values())

    def __copy__(self) -> PatientContext:
        copied = super().__copy__()
        LIVE_PATIENTS.hold(copied, copied.values())
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> PatientContext:
        copied = super().__deepcopy__(memo)
        LIVE_PATIENTS.hold(copied, copied.values())
        return copied

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> PatientContext:
        copied = super().model_copy(update=update, deep=deep)
        LIVE_PATIENTS.hold(copied, copied.values())  # ``update`` is applied after the copy
        return copied

    def values(self) -> list[str]:
        """Every non-empty identifying string, for canary tests and the text scrubber."""
        found: list[str] = []
        for name in type(self).model_fields:
            if name in {"related", "extra", "sex", "id_type"}:
                continue
            value = getattr(self, name)
            if value:
                found.append(str(value))
        for person in self.related:
            found.extend(
                str(v) for v in (person.name, person.phone, person.address, person.employer) if v
            )
        found.extend(v for v in self.extra.values() if v)
        return found

    def model_dump(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()

    def model_dump_json(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()

    def __repr__(self) -> str:
        return "PatientContext(<phi>)"

    __str__ = __repr__
    __reduce__ = _refuse
    __reduce_ex__ = _refuse
    __getstate__ = _refuse
