"""Conversion between Python values and Temporal payloads (the default JSON data converter).

Encodings understood (the same as Temporal's default converter):
- ``binary/null``: ``None``
- ``binary/plain``: ``bytes``
- ``json/plain``: any JSON value
A payload with another encoding is passed to the activity as a :class:`RawPayload`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Iterable, List

from ._proto import external_worker_pb2 as pb

ENCODING = "encoding"


@dataclasses.dataclass(frozen=True)
class RawPayload:
    """A payload this converter does not decode (kept as metadata and data bytes).

    Returning one from an activity sends it unchanged.
    """

    metadata: Dict[str, bytes]
    data: bytes


class PayloadError(ValueError):
    """A payload could not be decoded or a value could not be encoded."""


def encode(value: Any) -> pb.Payload:
    """Encodes one value as a payload."""
    if isinstance(value, RawPayload):
        return pb.Payload(metadata=dict(value.metadata), data=value.data)
    if value is None:
        return pb.Payload(metadata={ENCODING: b"binary/null"}, data=b"")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return pb.Payload(metadata={ENCODING: b"binary/plain"}, data=bytes(value))
    try:
        data = json.dumps(value, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise PayloadError(f"cannot encode a {type(value).__name__} as JSON: {e}") from e
    return pb.Payload(metadata={ENCODING: b"json/plain"}, data=data)


def encode_all(values: Iterable[Any]) -> List[pb.Payload]:
    """Encodes each value."""
    return [encode(v) for v in values]


def decode(payload: pb.Payload) -> Any:
    """Decodes one payload."""
    encoding = payload.metadata.get(ENCODING, b"")
    if encoding == b"binary/null":
        return None
    if encoding == b"binary/plain":
        return bytes(payload.data)
    if encoding == b"json/plain":
        try:
            return json.loads(payload.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise PayloadError(f"invalid json/plain payload: {e}") from e
    return RawPayload(metadata=dict(payload.metadata), data=bytes(payload.data))


def decode_all(payloads: Iterable[pb.Payload]) -> List[Any]:
    """Decodes each payload."""
    return [decode(p) for p in payloads]
