"""The judgement body of a submit, checked as `JudgementInputSerializer` checks it, cheaply when it can."""
from annotation.api.hot_path import NotOnTheHotPath, json_body_bytes
from annotation.api.serializers import JudgementInputSerializer
from annotation.models import Judgement
from annotation.services.judgements import MAX_TEXT_CHARS, MAX_TIME_SPENT_MS

_FLAGS = frozenset(Judgement.Flag.values)
_PLAIN_TEXT_FIELDS = ("rationale", "text")
_PASSED_THROUGH = ("ranking", "criteria")  # JSONFields: checked against the task by the service


def _small_int(value, low: int, high: int) -> bool:
    return value is None or (type(value) is int and low <= value <= high)


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
        and _plain_text(client_id := data.get("client_id"), 100) and client_id and client_id == client_id.strip()
        and type(data.get("both_bad", False)) is bool
        and _small_int(data.get("strength"), 1, 4)
        and _small_int(data.get("time_spent_ms"), 0, MAX_TIME_SPENT_MS)
        and all(_plain_text(data.get(name, ""), MAX_TEXT_CHARS) for name in _PLAIN_TEXT_FIELDS)
        and (type(flags := data.get("flags", [])) is list and all(type(f) is str and f in _FLAGS for f in flags))
        and all(data.get(name, 0) is not None for name in _PASSED_THROUGH)  # the serializer refuses null
    ):
        fields = {"client_id": client_id, "both_bad": data.get("both_bad", False)}
        for name in ("strength", "time_spent_ms", "flags", *_PLAIN_TEXT_FIELDS, *_PASSED_THROUGH):
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
