"""The error answers every operation may give, written into the OpenAPI schema (drf-spectacular's
postprocessing hook), so a client and a fuzzer know them: docs/api.md, "Errors".

Domain errors and DRF's own (authentication, permission, not found, parse errors) answer
`{detail, code?, field?}`; a serializer's type errors answer DRF's `{"<field>": ["message"]}`;
a database that cannot be reached answers 503 with Retry-After (annotation.api.unavailable).
"""

ERROR = {
    "type": "object",
    "description": "A refused request: a one-line message, a stable code and, when one is at fault, the field.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
    },
    "required": ["detail"],
}
VALIDATION_ERRORS = {
    "type": "object",
    "description": "A serializer's type errors: `{\"<field>\": [\"message\"]}` (nested for nested fields).",
    "additionalProperties": {},
}

# Operations that can meet a conflicting state (409), by (method, path).
CONFLICTS = {
    ("post", "/api/projects/"),  # name taken
    ("post", "/api/projects/{project_id}/members/"),  # password given for someone else's account
    ("post", "/api/assignments/{assignment_id}/judgement/"),  # lease lapsed, already judged, client_id reused
    ("post", "/api/assignments/{assignment_id}/skip/"),
    ("post", "/api/judgements/{judgement_id}/replace/"),  # undo window closed, already replaced
    ("post", "/api/iterations/{iteration_id}/cancel/"),
    ("post", "/api/iterations/{iteration_id}/resume/"),
    ("post", "/api/projects/{project_id}/iterations/"),
    ("patch", "/api/projects/{project_id}/"),
    ("post", "/api/tasks/{task_id}/gold/"),
}
# Session sign-in and sign-out check the CSRF token themselves (403 without it), signed in or not.
CSRF_CHECKED = {("post", "/api/auth/session/"), ("delete", "/api/auth/session/")}
# Sign-ins count failures and answer 429 past the limit (annotation.api.throttles).
SIGN_INS = {("post", "/api/auth/token/"), ("post", "/api/auth/session/")}
METHODS = {"get", "post", "put", "patch", "delete"}


def _answer(description: str, schema: dict, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def document_error_answers(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds the error answers to each operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ValidationErrors"] = VALIDATION_ERRORS
    error = {"$ref": "#/components/schemas/Error"}
    bad_request = {"anyOf": [error, {"$ref": "#/components/schemas/ValidationErrors"}]}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            parameters = operation.get("parameters", [])
            signed_in = {} not in operation.get("security", [{}])
            answers = {
                "400": (operation.get("requestBody") or any(p["in"] == "query" for p in parameters))
                and _answer("Invalid input: the message names the field.", bad_request),
                "401": signed_in and _answer("Not signed in.", error),
                "403": (signed_in or (method, path) in CSRF_CHECKED)
                and _answer("Not allowed: the caller lacks the role, is paused, or sent no CSRF token.", error),
                "404": any(p["in"] == "path" for p in parameters)
                and _answer("Unknown, or not the caller's to see.", error),
                "409": (method, path) in CONFLICTS and _answer("Conflicting state (the message says which).", error),
                "413": operation.get("requestBody")
                and _answer("The body (or an imported file) is over a configured limit, which the message names.", error),
                "429": (method, path) in SIGN_INS
                and _answer("Too many failed sign-ins; retry after Retry-After seconds.", error,
                            {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}),
                "503": _answer("The database is unavailable; retry after Retry-After seconds.", error,
                               {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}),
            }
            responses = operation.setdefault("responses", {})
            for status, answer in answers.items():
                if answer and status not in responses:
                    responses[status] = answer
    return result
