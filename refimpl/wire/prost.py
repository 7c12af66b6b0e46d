"""The decoding rules of prost (the Rust protobuf library Parsec uses) that Python's protobuf runtime lacks.

Parsec decodes a body with prost's `Message::merge` and answers DeserializingBodyFailed when it fails
(ifc:src/operations_protobuf/mod.rs `wire_to_native!`; parsec-facts §1.2 step 12). Python's runtime (upb) agrees
with prost on truncation, bad varints, bad UTF-8 in strings and invalid tags, but it parses a *known* field that
arrives with the wrong wire type as an unknown field and carries on, where prost rejects it ("invalid wire type").
`check_wire_types` walks an already-parsed body against the message descriptor and applies prost's rule:
a scalar field must come with its own wire type, a repeated numeric field may also come packed, and strings,
bytes and sub-messages must be length-delimited; sub-messages are checked recursively.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from refimpl.errors import ParsecError
from refimpl.ids import Status

VARINT, FIXED64, LENGTH_DELIMITED, START_GROUP, END_GROUP, FIXED32 = range(6)

_WIRE_TYPE: dict[int, int] = {
    FieldDescriptor.TYPE_DOUBLE: FIXED64,
    FieldDescriptor.TYPE_FIXED64: FIXED64,
    FieldDescriptor.TYPE_SFIXED64: FIXED64,
    FieldDescriptor.TYPE_FLOAT: FIXED32,
    FieldDescriptor.TYPE_FIXED32: FIXED32,
    FieldDescriptor.TYPE_SFIXED32: FIXED32,
    FieldDescriptor.TYPE_STRING: LENGTH_DELIMITED,
    FieldDescriptor.TYPE_BYTES: LENGTH_DELIMITED,
    FieldDescriptor.TYPE_MESSAGE: LENGTH_DELIMITED,
    FieldDescriptor.TYPE_GROUP: START_GROUP,
}
"""Wire type of each field type; every other type (ints, bool, enum) is a varint."""


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _skip(data: bytes, offset: int, wire_type: int) -> int:
    """The offset after one field value (upb has already checked that it is well formed)."""
    if wire_type == VARINT:
        return _varint(data, offset)[1]
    if wire_type == FIXED64:
        return offset + 8
    if wire_type == FIXED32:
        return offset + 4
    if wire_type == LENGTH_DELIMITED:
        length, offset = _varint(data, offset)
        return offset + length
    while True:  # START_GROUP: skip fields until the matching END_GROUP
        key, offset = _varint(data, offset)
        if key & 7 == END_GROUP:
            return offset
        offset = _skip(data, offset, key & 7)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    wire_type: int
    packable: bool
    message: Any  # the sub-message descriptor, or None


_LAYOUTS: dict[str, dict[int, _Field]] = {}


def _layout(descriptor: Any) -> dict[int, _Field]:
    """Field number → what prost expects, computed once per message type (descriptor lookups are slow)."""
    layout = _LAYOUTS.get(descriptor.full_name)
    if layout is None:
        layout = {}
        for field in descriptor.fields:
            wire_type = _WIRE_TYPE.get(field.type, VARINT)
            packable = field.is_repeated and wire_type in (VARINT, FIXED32, FIXED64)
            message = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
            layout[field.number] = _Field(field.name, wire_type, packable, message)
        _LAYOUTS[descriptor.full_name] = layout
    return layout


def check_wire_types(data: bytes, descriptor: Any, start: int = 0, end: int | None = None) -> None:
    """Raise DeserializingBodyFailed for a known field carried with a wire type prost would refuse."""
    layout = _layout(descriptor)
    offset, stop = start, len(data) if end is None else end
    while offset < stop:
        key = data[offset]
        if key < 0x80:  # one-byte keys (field numbers up to 15) are the common case
            offset += 1
        else:
            key, offset = _varint(data, offset)
        wire_type = key & 7
        field = layout.get(key >> 3)
        if field is not None:
            if wire_type != field.wire_type and not (field.packable and wire_type == LENGTH_DELIMITED):
                expected = field.wire_type
                raise ParsecError(
                    Status.DESERIALIZING_BODY_FAILED,
                    f"{descriptor.full_name}.{field.name} arrived with wire type {wire_type}, expected {expected}",
                )
            if field.message is not None:
                length, payload = _varint(data, offset)
                offset = payload + length
                if length:
                    check_wire_types(data, field.message, payload, offset)
                continue
        offset = _skip(data, offset, wire_type)
