"""Export spans as X-Ray documents to a local file, one JSON document per line.

For the local viewer and the sandbox, which read the file while functions write it: the
documents are ``xray_trace_documents.trace_documents`` of each batch (a segment for an unsampled
invocation, so a trace is whole without Lambda's segments), each encoded as the daemon and
``PutTraceSegments`` take it, one per line.

The file is ``XRAYLAYER_FILE`` (default ``/tmp/xraylayer-traces.jsonl``), opened for each
batch with ``O_APPEND`` and written with one ``write``: on a local file system the kernel
appends that at the end whole, so batches of several exporters (one extension per sandbox, all
sharing one file) never interleave. A write that stops short (disk full, file size limit)
leaves part of a line: the spans whose lines are complete count as exported, the rest as
dropped (``file_error``), and the next batch starts with a newline so that no good line is
glued to the broken one. A file that cannot be opened or written drops the batch's spans as
``file_error``, logged once per path and error.
"""

from __future__ import annotations

import os
import time

from .export_result import CONVERSION_FAILED, DEADLINE, INTERNAL_ERROR, ExportResult

TYPE_CHECKING = False  # type names only: ``typing`` is not free to import
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from xraylayer.spans import Span

PATH_VARIABLE = "XRAYLAYER_FILE"
DEFAULT_PATH = "/tmp/xraylayer-traces.jsonl"  # /tmp: the only writable folder in Lambda
FILE_MODE = 0o644

# Reasons for dropped spans (keys of ExportResult.dropped), besides export_result's deadline
# (called after it), internal_error and conversion_failed.
FILE_ERROR = "file_error"  # the file could not be opened or written


class JsonLinesFileExporter:
    """Appends the X-Ray documents of each batch to one file, a line per document.

    ``path`` wins over ``environ`` (default: the process environment, read at the first
    export). Not thread-safe: one exporter per thread.
    """

    name = "file"

    def __init__(self, path: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._path = path
        self._environ = environ
        self._torn = False  # the last write stopped inside a line

    @property
    def path(self) -> str:
        """The file written to: ``path``, else ``XRAYLAYER_FILE``, else the default."""
        if self._path is None:
            environ = os.environ if self._environ is None else self._environ
            self._path = (environ.get(PATH_VARIABLE) or "").strip() or DEFAULT_PATH
        return self._path

    def export(self, spans: Iterable[Span], deadline: float) -> ExportResult:
        """Append ``spans`` as X-Ray documents unless ``deadline`` (``time.monotonic()``) has
        passed; never raises."""
        try:
            spans = list(spans)
        except Exception as error:
            _internal_error("file export (reading the spans)", error)
            return ExportResult()
        if spans and time.monotonic() >= deadline:
            return ExportResult(dropped={DEADLINE: len(spans)})
        try:
            return self._export(spans)
        except Exception as error:
            _internal_error("file export", error)
            return ExportResult(dropped={INTERNAL_ERROR: len(spans)})

    def _export(self, spans: list[Span]) -> ExportResult:
        from xraylayer.xray_document import encode

        from .xray_trace_documents import trace_documents

        result = ExportResult()
        documents = trace_documents(spans, lambda span, error: result.drop(CONVERSION_FAILED, 1))
        if not documents:
            return result
        lines = [encode(document) + b"\n" for document in documents]
        prefix = b"\n" if self._torn else b""
        data = prefix + b"".join(lines)
        result.attempts = 1
        try:
            written = self._append(data)
        except OSError as error:
            _log_file_error(self.path, error)
            result.drop(FILE_ERROR, len(lines))
            result.message = _error_text(error)
            return result
        self._torn = 0 < written < len(data) and data[written - 1 : written] != b"\n"
        complete = _complete_lines(lines, written - len(prefix))
        result.exported += complete
        if complete < len(lines):
            message = f"short write to {self.path}: {written} of {len(data)} bytes"
            _log_file_error(self.path, OSError(message))
            result.drop(FILE_ERROR, len(lines) - complete)
            result.message = message
        return result

    def _append(self, data: bytes) -> int:
        """One ``write`` of ``data`` at the end of the file; how many bytes it took."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        descriptor = os.open(self.path, flags, FILE_MODE)
        try:
            return os.write(descriptor, data)
        finally:
            os.close(descriptor)


def _complete_lines(lines: list[bytes], written: int) -> int:
    """How many of ``lines`` lie wholly in the first ``written`` bytes of their join."""
    complete = 0
    for line in lines:
        written -= len(line)
        if written < 0:
            break
        complete += 1
    return complete


def _log_file_error(path: str, error: OSError) -> None:
    from xraylayer import diagnostics

    message = f"cannot append traces to {path}: {_error_text(error)}; their spans are dropped"
    diagnostics.log("warning", message, once=f"file-export:{path}:{type(error).__name__}")


def _error_text(error: OSError) -> str:
    return f"{type(error).__name__}: {error.strerror or error}"


def _internal_error(where: str, error: BaseException) -> None:
    from xraylayer import diagnostics

    diagnostics.internal_error(where, error)
