"""What a hot request carries, checked in one place: its token, its JSON body, a judgement's fields, ids.

The judgement body's rules are `JudgementInputSerializer`'s (the limits are read from its fields);
`plain_judgement_fields` is the cheap check of a body the serializer would take unchanged, and
anything else goes through the serializer for its exact answer or its exact error.
"""
import json

from django.utils.http import parse_header_parameters

from annotation.api.serializers import JudgementInputSerializer

# PostgreSQL's bigint, the type of every id: a larger (or negative) id names nothing, and the SQL
# functions cannot take it as a parameter (the services answer it: 404 for a path, 400 in a body).
BIGINT_MAX = 2**63 - 1

_FIELDS = JudgementInputSerializer().fields
_CLIENT_ID_MAX = _FIELDS["client_id"].max_length
_STRENGTH = (_FIELDS["strength"].min_value, _FIELDS["strength"].max_value)
_TIME_SPENT = (_FIELDS["time_spent_ms"].min_value, _FIELDS["time_spent_ms"].max_value)
_TEXT_MAX = {name: _FIELDS[name].max_length for name in ("rationale", "text")}
_FLAGS = frozenset(_FIELDS["flags"].child.choices)
_PASSED_THROUGH = ("ranking", "criteria")  # JSONFields: checked against the task by the service
del _FIELDS


class NotOnTheHotPath(Exception):
    """Raised where a hot path leaves the request to DRF (before any write happened)."""


def token_key(authorization: str) -> str | None:
    """The key of a well-formed `Token <key>` header, or None (DRF then answers, e.g. 401)."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "token" or not parts[1].isascii():
        return None
    return parts[1]


def is_row_id(value) -> bool:
    """True for an int a bigint id column can hold (1 .. 2^63-1)."""
    return type(value) is int and 0 < value <= BIGINT_MAX


def json_body_bytes(content_type: str, body: bytes):
    """A body parsed as DRF's JSONParser would parse it under that Content-Type header;
    NotOnTheHotPath when DRF should decide (another type or charset, no body, invalid JSON)."""
    main_type, params = parse_header_parameters(content_type)
    if main_type != "application/json" or params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise NotOnTheHotPath
    if not body:
        raise NotOnTheHotPath
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise NotOnTheHotPath from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")  # DRF's strict JSON refuses NaN and Infinity


def _small_int(value, bounds: tuple[int, int]) -> bool:
    return value is None or (type(value) is int and bounds[0] <= value <= bounds[1])


def _plain_text(value, max_length: int) -> bool:
    """A str DRF's CharField keeps unchanged: no null characters, no lone surrogates."""
    if type(value) is not str or len(value) > max_length or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_judgement_fields(data) -> dict | None:
    """The judgement fields of a request body if `JudgementInputSerializer` would accept every
    value unchanged (the validated data it would return); None when it might coerce or refuse one."""
    if (
        type(data) is dict
        and _plain_text(client_id := data.get("client_id"), _CLIENT_ID_MAX) and client_id
        and client_id == client_id.strip()
        and type(data.get("both_bad", False)) is bool
        and _small_int(data.get("strength"), _STRENGTH)
        and _small_int(data.get("time_spent_ms"), _TIME_SPENT)
        and all(_plain_text(data.get(name, ""), max_length) for name, max_length in _TEXT_MAX.items())
        and (type(flags := data.get("flags", [])) is list and all(type(f) is str and f in _FLAGS for f in flags))
        and all(data.get(name, 0) is not None for name in _PASSED_THROUGH)  # the serializer refuses null
    ):
        fields = {"client_id": client_id, "both_bad": data.get("both_bad", False)}
        for name in ("strength", "time_spent_ms", "flags", *_TEXT_MAX, *_PASSED_THROUGH):
            if name in data:
                fields[name] = data[name]
        return fields
    return None


def plain_judgement_request(content_type: str, body: bytes) -> dict:
    """`plain_judgement_fields` of a request's JSON body; NotOnTheHotPath when DRF should decide."""
    fields = plain_judgement_fields(json_body_bytes(content_type, body))
    if fields is None:
        raise NotOnTheHotPath
    return fields


def judgement_input(data) -> dict:
    """The judgement fields of a request body, as `JudgementInputSerializer` validates them.

    The serializer deep-copies its fields on every request (~0.3 ms of CPU on the hot path), so a
    body made only of values it would accept unchanged is taken as is; anything else (a coercion
    such as "2" -> 2, a blank, a wrong type) goes through the serializer for its exact answer or
    its exact error.
    """
    fields = plain_judgement_fields(data)
    if fields is not None:
        return fields
    serializer = JudgementInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
