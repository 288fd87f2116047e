"""The one error type services raise; the API maps it onto an HTTP status."""


class DomainError(Exception):
    """A rule of the domain refused the request.

    `code` is a stable machine-readable name; `http_status` the status the API answers with
    (400 invalid input, 403 not allowed, 404 unknown, 409 conflicting state).
    """

    def __init__(self, message: str, *, code: str = "invalid", http_status: int = 400, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.field = field
