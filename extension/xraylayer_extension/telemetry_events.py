"""The Telemetry API events the extension acts on, read from one delivered batch.

Lambda POSTs each batch as a JSON array of ``{"time", "type", "record"}`` events
(lambda-platform.md §3.2, §3.3). Of those the extension needs few: ``platform.runtimeDone``
says how an invocation ended the moment the runtime is done with it (success, error, timeout,
crash), so a failed invocation need not be waited on until its deadline; ``platform.report``
carries the figures Lambda only knows once the invoke phase is over (memory, billed time, init
duration); the three init events say how the sandbox started and whether that failed.
``parse_batch`` turns a body into typed records and counts everything else - events of other
types as ignored, anything that is not what Lambda documents as malformed - and never raises:
whatever a delivery holds must not stop the extension.

Pure: no I/O, no clock; ``json`` is imported on first use (the extension imports it anyway
after registering). The records are plain classes with ``__slots__``: ``dataclasses`` alone
costs more to import than this whole module.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs more to import than this module

RUNTIME_DONE = "platform.runtimeDone"
REPORT = "platform.report"
INIT_START = "platform.initStart"
INIT_RUNTIME_DONE = "platform.initRuntimeDone"
INIT_REPORT = "platform.initReport"
INIT_EVENTS = (INIT_START, INIT_RUNTIME_DONE, INIT_REPORT)

MAX_BATCH_BYTES = 4 << 20
"""Larger bodies are not parsed. A batch may reach twice ``maxBytes`` plus metadata (§3.2);
``maxBytes`` is at most 1 MiB, and the extension subscribes with 256 KiB."""

# Why an event or a whole body was not used (keys of ``Batch.malformed``: a fixed set).
NOT_JSON = "not JSON"
NOT_AN_ARRAY = "not a JSON array"
TOO_LARGE = "batch too large"
NOT_AN_EVENT = "not an event"
BAD_RECORD = "record of the wrong shape"

OUT_OF_MEMORY = "OutOfMemory"
"""The last part of the error type Lambda gives an invocation killed for using too much memory:
``Runtime.OutOfMemory`` in ``platform.runtimeDone`` and ``platform.report``, and on the
``REPORT`` log line."""

_INFINITY = float("inf")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class _Record:
    """Equality, hashing and a readable repr from the fields named in ``__slots__``: records
    are values, never changed after parsing."""

    __slots__ = ()

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class RuntimeDone(_Record):
    """``platform.runtimeDone``: the runtime finished invocation ``request_id``.

    ``status`` is ``success``, ``error``, ``timeout`` or ``failure``; ``error_type`` (such as
    ``Runtime.ExitError`` or ``Sandbox.Timedout``) comes with any other status than success.
    ``duration_ms`` is None when Lambda sent no metrics.
    """

    __slots__ = ("duration_ms", "error_type", "request_id", "status")

    def __init__(
        self, request_id: str, status: str, error_type: str | None, duration_ms: float | None
    ) -> None:
        self.request_id = request_id
        self.status = status
        self.error_type = error_type
        self.duration_ms = duration_ms


class Report(_Record):
    """``platform.report``: the invoke phase of ``request_id`` is over; Lambda's figures for it.

    Comes only after every extension called ``next`` (§3.3), so for the invocation before.
    ``init_duration_ms`` is set on the first invocation of a sandbox (a cold start). Figures
    Lambda left out, or sent as something other than a finite non-negative number, are None.
    """

    __slots__ = (
        "duration_ms",
        "error_type",
        "init_duration_ms",
        "max_memory_used_mb",
        "memory_size_mb",
        "request_id",
        "status",
    )

    def __init__(
        self,
        request_id: str,
        status: str,
        error_type: str | None,
        duration_ms: float | None,
        *,
        max_memory_used_mb: float | None,
        memory_size_mb: float | None,
        init_duration_ms: float | None,
    ) -> None:
        self.request_id = request_id
        self.status = status
        self.error_type = error_type
        self.duration_ms = duration_ms
        self.max_memory_used_mb = max_memory_used_mb
        self.memory_size_mb = memory_size_mb
        self.init_duration_ms = init_duration_ms


class InitPhase(_Record):
    """One of ``platform.initStart``, ``platform.initRuntimeDone``, ``platform.initReport``.

    ``event_type`` says which. ``initialization_type`` is ``on-demand``,
    ``provisioned-concurrency`` or ``snap-start``; ``phase`` is ``init``, or ``invoke`` when Lambda
    re-ran a failed or timed-out init at the first invocation. ``status`` and ``error_type`` say
    whether init failed (initRuntimeDone; initReport too in newer schemas); ``duration_ms`` is
    the init duration (initReport). ``time`` is when Lambda wrote the event, in epoch seconds:
    for initStart the start of init, for the other two its end. Fields an event does not carry
    are None.
    """

    __slots__ = (
        "duration_ms",
        "error_type",
        "event_type",
        "initialization_type",
        "phase",
        "status",
        "time",
    )

    def __init__(
        self,
        event_type: str,
        *,
        initialization_type: str | None,
        phase: str | None,
        status: str | None,
        error_type: str | None,
        time: float | None,
        duration_ms: float | None,
    ) -> None:
        self.event_type = event_type
        self.initialization_type = initialization_type
        self.phase = phase
        self.status = status
        self.error_type = error_type
        self.time = time
        self.duration_ms = duration_ms


class Batch:
    """What one delivery held: the records to act on, and counts of everything else."""

    __slots__ = ("ignored", "malformed", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.ignored = 0  # well-formed events of types the extension does not act on
        self.malformed: dict[str, int] = {}  # by reason: the constants above

    def count_malformed(self, reason: str) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1


def parse_batch(body: bytes) -> Batch:
    """The records in one delivered body; never raises."""
    batch = Batch()
    if len(body) > MAX_BATCH_BYTES:
        batch.count_malformed(TOO_LARGE)
        return batch
    import json

    try:
        events = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        batch.count_malformed(NOT_JSON)
        return batch
    if not isinstance(events, list):
        batch.count_malformed(NOT_AN_ARRAY)
        return batch
    for event in events:
        _file(batch, event)
    return batch


def _file(batch: Batch, event: object) -> None:
    """Add one event's record to ``batch``, or count it as ignored or malformed."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        batch.count_malformed(NOT_AN_EVENT)
        return
    event_type = event["type"]
    if event_type not in (RUNTIME_DONE, REPORT, *INIT_EVENTS):
        batch.ignored += 1
        return
    record = event.get("record")
    parsed = _read(event_type, record, event.get("time")) if isinstance(record, dict) else None
    if parsed is None:
        batch.count_malformed(BAD_RECORD)
    else:
        batch.records.append(parsed)


def _read(event_type: str, record: dict, time: object) -> Record | None:
    """The typed record of an event of a type acted on; None when it lacks what it needs."""
    if event_type in INIT_EVENTS:
        return InitPhase(
            event_type,
            initialization_type=_text(record.get("initializationType")),
            phase=_text(record.get("phase")),
            status=_text(record.get("status")),
            error_type=_text(record.get("errorType")),
            time=epoch_seconds(time),
            duration_ms=_number(_metrics(record).get("durationMs")),
        )
    request_id, status = _text(record.get("requestId")), _text(record.get("status"))
    if request_id is None or status is None:
        return None
    error_type = _text(record.get("errorType"))
    metrics = _metrics(record)
    duration_ms = _number(metrics.get("durationMs"))
    if event_type == RUNTIME_DONE:
        return RuntimeDone(request_id, status, error_type, duration_ms)
    return Report(
        request_id,
        status,
        error_type,
        duration_ms,
        max_memory_used_mb=_number(metrics.get("maxMemoryUsedMB")),
        memory_size_mb=_number(metrics.get("memorySizeMB")),
        init_duration_ms=_number(metrics.get("initDurationMs")),
    )


def _metrics(record: dict) -> dict:
    metrics = record.get("metrics")
    return metrics if isinstance(metrics, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    """A finite, non-negative JSON number (``json`` also reads ``NaN`` and ``Infinity``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < _INFINITY:
        return value
    return None


def out_of_memory(record: RuntimeDone | Report) -> bool:
    """Whether the invocation ran out of memory: its error type says so, or - when it failed
    with another error type (Lambda has also reported ``Runtime.ExitError`` with ``signal:
    killed``) - its report shows the memory used reaching the memory size."""
    error_type = record.error_type
    if error_type is not None and error_type.rpartition(".")[2] == OUT_OF_MEMORY:
        return True
    if not isinstance(record, Report) or record.status == "success":
        return False
    used, size = record.max_memory_used_mb, record.memory_size_mb
    return used is not None and size is not None and 0 < size <= used


def epoch_seconds(text: object) -> float | None:
    """Epoch seconds of an ISO-8601 time as Lambda writes them (``2022-10-12T00:00:15.064Z``:
    any number of fraction digits, ``Z`` or a ``+HH:MM`` / ``-HH:MM`` offset); None otherwise.

    Parsed by hand: ``datetime.fromisoformat`` reads ``Z`` and odd fraction lengths only from
    Python 3.11, and ``time.strptime`` costs about 10 ms to import.
    """
    if not isinstance(text, str) or not 20 <= len(text) <= 40 or not text.isascii():
        return None
    if text[4] + text[7] + text[10] + text[13] + text[16] not in ("--T::", "--t::"):
        return None
    parts = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(part.isdigit() for part in parts):
        return None
    year, month, day, hour, minute, second = (int(part) for part in parts)
    if not _valid_date(year, month, day) or hour > 23 or minute > 59 or second > 59:
        return None
    fraction, zone = _fraction(text[19:])
    offset = _offset_seconds(zone)
    if fraction is None or offset is None:
        return None
    days = _days_since_epoch(year, month, day)
    return days * 86400 + hour * 3600 + minute * 60 + second - offset + fraction


def _fraction(rest: str) -> tuple[float | None, str]:
    """The fraction of a second at the start of ``rest`` (``.064``) and what follows it."""
    if not rest.startswith("."):
        return 0.0, rest
    zone = rest[1:].lstrip("0123456789")
    digits = rest[1 : len(rest) - len(zone)]
    return (float("0." + digits) if digits else None), zone


def _offset_seconds(zone: str) -> int | None:
    """Seconds east of UTC of ``Z`` or ``+HH:MM`` / ``-HH:MM``; None for anything else."""
    if zone in ("Z", "z"):
        return 0
    if len(zone) != 6 or zone[0] not in "+-" or zone[3] != ":":
        return None
    hours, minutes = zone[1:3], zone[4:6]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        return None
    seconds = int(hours) * 3600 + int(minutes) * 60
    return -seconds if zone[0] == "-" else seconds


def _valid_date(year: int, month: int, day: int) -> bool:
    if year < 1 or not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS_IN_MONTH[month - 1] + (month == 2 and leap)


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (the civil-from-days algorithm,
    reversed: March-based years put the leap day last)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


if TYPE_CHECKING:
    Record = RuntimeDone | Report | InitPhase
