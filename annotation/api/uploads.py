"""An upload handler that refuses a multipart body over IMPORT_MAX_UPLOAD_BYTES as it arrives."""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from annotation.errors import DomainError


def _too_large(limit: int) -> DomainError:
    return DomainError(
        f"The upload is larger than {limit} bytes (IMPORT_MAX_UPLOAD_BYTES).",
        code="too_large", http_status=413, field="file",
    )


class UploadSizeLimitHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: checks the declared length, then counts the file bytes
    actually received (a client may send no or a false Content-Length), and passes them on."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.IMPORT_MAX_UPLOAD_BYTES
        self.received = 0
        if content_length and content_length > self.limit:
            raise _too_large(self.limit)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise _too_large(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None
