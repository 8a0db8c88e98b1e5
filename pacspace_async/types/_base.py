"""The base of every answer model: attributes in snake_case, keys as on the wire.

Answers are pydantic models (``result.record_id``), and they also read like the dicts the
official client returns (``result["recordId"]``, ``result.get("deltaCount")``, ``"status"
in result``, ``dict(result)``), so code written for it keeps working. Fields the server
adds that we do not know yet are kept and readable by their wire name.

An answer never fails a call for one field. A field the service left out reads ``None``
(and is not ``in`` the answer, nor in ``to_dict()``); a field of an unexpected type is
kept as sent. Either is said on one DEBUG line naming the model and the fields. Only an
answer that is not an object at all is an ``INVALID_RESPONSE``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainValidator,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from typing_extensions import Self

from .. import _json
from .._errors import PacSpaceError
from ._raw import RawResponse

__all__ = ["APIModel", "CheckpointStatus", "DeliveryStatus", "DeltaStatus", "Status"]

log = logging.getLogger("pacspace")

FROM_SERVICE: dict[str, Any] = {"from": "service"}
"""The validation context of what the service sent: answers, webhook events."""


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _status(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a status is a string")
    return value.upper()


Status = Annotated[str, BeforeValidator(_upper)]
"""A status as the server sent it, upper-cased. Unknown values are kept, never rejected."""

# Every status field is upper-cased, whatever the server's case. Type checkers see the
# values the service documents; a value it adds later is kept as sent (upper-cased), never
# rejected, so compare with ``==`` rather than exhaustively matching.
DeltaStatus = Annotated[
    Literal["QUEUED", "PROCESSING", "VERIFIED", "FAILED"], PlainValidator(_status)
]
"""A delta's status: ``QUEUED`` and ``PROCESSING`` until ``VERIFIED`` or ``FAILED``."""

CheckpointStatus = Annotated[Literal["PENDING", "VERIFIED", "FAILED"], PlainValidator(_status)]
"""A checkpoint's status."""

DeliveryStatus = Annotated[
    Literal["PENDING", "SENDING", "DELIVERED", "FAILED"], PlainValidator(_status)
]
"""A webhook delivery's status."""


class APIModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        arbitrary_types_allowed=False,
        ser_json_inf_nan="strings",
    )

    _wire_names: ClassVar[dict[str, str]] = {}
    _tolerant: ClassVar[dict[frozenset[str], type[APIModel]]] = {}
    _strict_of: ClassVar[type[APIModel] | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            names[info.alias or name] = name
            names.setdefault(name, name)
        cls._wire_names = names
        cls._tolerant = {}

    @model_validator(mode="wrap")
    @classmethod
    def _fit_what_came(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        """Build an answer from what came (read with :data:`FROM_SERVICE`): fields that do
        not fit (left out, or of an unexpected type) are read as sent, or ``None`` when
        absent. Models the SDK builds itself stay strict."""
        try:
            return handler(data)
        except PydanticValidationError as exc:
            tolerant = info.context is FROM_SERVICE
            if not tolerant or cls._strict_of is not None or not isinstance(data, Mapping):
                raise
            names = {
                cls._wire_names.get(str(error["loc"][0]), str(error["loc"][0]))
                for error in exc.errors()
                if error["loc"]
            }
            if not names <= cls.model_fields.keys():
                raise
            absent = sorted(
                info.alias or name
                for name, info in cls.model_fields.items()
                if name in names and (info.alias or name) not in data and name not in data
            )
            odd = sorted((cls.model_fields[name].alias or name) for name in names)
            odd = [name for name in odd if name not in absent]
            log.debug(
                "pacspace: %s answer: %s%s%s",
                cls.__name__,
                f"left out {', '.join(absent)} (read as None)" if absent else "",
                "; " if absent and odd else "",
                f"{', '.join(odd)} of an unexpected type (kept as sent)" if odd else "",
            )
            made = cls._tolerant_for(frozenset(names))
            return made.model_validate(data, context=FROM_SERVICE)  # type: ignore[return-value]

    @classmethod
    def _tolerant_for(cls, names: frozenset[str]) -> type[APIModel]:
        """This model with ``names`` taking anything, ``None`` when absent (made once per
        set of names; a subclass, so ``isinstance`` and properties hold)."""
        made = cls._tolerant.get(names)
        if made is None:
            fields: Any = {
                name: (Any, Field(default=None, alias=cls.model_fields[name].alias))
                for name in names
            }
            made = create_model(cls.__name__, __base__=cls, __module__=cls.__module__, **fields)
            made._strict_of = cls
            cls._tolerant[names] = made
        return made

    @classmethod
    def from_answer(cls, data: Any, raw: RawResponse | None = None) -> Self:
        """The model of a server answer (``raw``: the HTTP answer it came in, shown as
        :attr:`raw_response`); an answer of the wrong shape is a PacSpaceError."""
        try:
            model = cls.model_validate(data, context=FROM_SERVICE)
        except PydanticValidationError as exc:
            preview = repr(data)[:120]
            raise PacSpaceError(
                f"Unexpected answer for {cls.__name__}: {preview} "
                f"({exc.error_count()} field(s) do not fit)",
                0,
                "INVALID_RESPONSE",
                body=data,
            ) from None
        if raw is not None:
            # Not a pydantic private attribute: those cost every model (nested ones too)
            # a post-init step. Kept out of dumps, equality and reprs all the same.
            object.__setattr__(model, "_pacspace_raw", raw)
        return model

    @property
    def raw_response(self) -> RawResponse | None:
        """The HTTP answer this came in (status, headers, ``request_id``, ``rate_limit``);
        ``None`` for models not read from an answer (webhook events, local reports)."""
        raw: RawResponse | None = self.__dict__.get("_pacspace_raw")
        return raw

    # -- dict-style access by wire name ---------------------------------------------

    def __getitem__(self, key: str) -> Any:
        name = self._wire_names.get(key)
        if name is not None:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        if extra is not None and key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value

    # A key is there when the server sent it, as in the official client's dict: a field
    # the answer left out is not ``in`` it, even where the model gives it a default.

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = self._wire_names.get(key)
        if name is not None:
            return name in self.model_fields_set
        extra = self.__pydantic_extra__
        return extra is not None and key in extra

    def keys(self) -> list[str]:
        """Wire names of the fields the server sent, then unknown fields."""
        sent = self.model_fields_set
        out = [info.alias or name for name, info in type(self).model_fields.items() if name in sent]
        if self.__pydantic_extra__:
            out.extend(self.__pydantic_extra__)
        return out

    def values(self) -> list[Any]:
        return [self[key] for key in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        # Iterating an answer yields its wire keys, as iterating the official dict did.
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    if not TYPE_CHECKING:  # type checkers keep seeing only the declared fields

        def __getattr__(self, name: str) -> Any:
            # A field the SDK does not model yet, by its snake_case name:
            # ``result.sequence_number`` reads the server's ``sequenceNumber``.
            try:
                return super().__getattr__(name)
            except AttributeError:
                extra = self.__pydantic_extra__
                wire = to_camel(name)
                if extra is not None and wire in extra:
                    return extra[wire]
                raise

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain data with the wire's names; amounts stay exact ``Decimal``.

        Fields the server did not send are left out (a ``null`` it sent stays ``None``),
        fields the SDK does not model kept.
        """
        return self.model_dump(by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """The answer as JSON with the wire's names, amounts written as exact numbers
        (``-42.5``, ``1234567890.123456789``): what ``json.dumps`` of the official
        client's dict gave, without its float rounding."""
        return _json.dumps(self.to_dict())
