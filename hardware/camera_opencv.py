"""Plain cameras read through OpenCV, with the local plate reader.

Libraries used (not home-made): **OpenCV** ``cv2.VideoCapture`` (FFmpeg and
V4L2 backends of opencv-python-headless) opens every source and decodes the
frames, ``cv2.imread`` reads image folders; the plates are read by
:class:`hardware.plate_reader.PlateReader` (RapidOCR, models inside its wheel).

URLs (:func:`open_opencv_camera`)::

    opencv://0                    a local device by index (V4L2 /dev/video0)
    rtsp://[user:pass@]host/path  an IP camera stream (FFmpeg); also rtsps://
    http(s)://host/path           an MJPEG (or other FFmpeg-readable) HTTP stream
    file:///path/video.mp4        a video file, played in real time
    file:///path/folder/          a folder of images (.jpg .jpeg .png .bmp .webp
                                  .tif .tiff), shown one per interval in name order

File and folder URLs take ``?loop=1`` to start again at the end; a stream's
query is the camera's and goes to FFmpeg untouched, except ``region``. Every
OpenCV URL takes ``?region=CODE`` (``us``, ``us-ca``, ``eu-de``, ``gb``: the
plate syntaxes of :mod:`hardware.plate_regions` rank, correct and filter the
reads; absent: the region-free reader) and ``?vote=N`` (1-10, default 1):
the best reads of up to N consecutive frames of one passage are combined
by :func:`hardware.plate_vote.vote` into one read (a frame without a read
ends the passage early). These schemes
(:data:`OPENCV_SCHEMES`) are part of the camera scheme table
(:data:`hardware.cameras.CAMERA`).

Weight: importing this module loads neither OpenCV nor numpy nor the plate
reader; OpenCV loads on the camera's thread when a source opens, numpy and
RapidOCR with the plate reader at the first frame.

How it runs: :meth:`OpenCVPlateCamera.start` returns at once; a daemon thread
("the camera's thread") opens the source, takes one frame every ``interval``
seconds (a live stream is drained continuously on a second thread so the
sampled frame is the newest one, not one queued seconds ago), runs the reader
on it and calls ``on_read(PlateRead)`` with the best plate-like read (source
``"opencv"``, ``at`` = UTC time of the frame, confidence 0..1, ``image`` =
the plate cropped from the frame around the read's text box, a small PNG:
:func:`hardware.plate_picture.frame_crop`). The same plate
is reported again only after ``dedup_seconds`` without seeing it (a car
waiting at the barrier is one read, not one per second).

Health (:meth:`OpenCVPlateCamera.status`, never does I/O):

- ``unknown``: not started, stopped, or still opening;
- ``ok``: frames are arriving;
- ``faulted``: a file or folder that does not exist or cannot be decoded, or
  a plate reader that is not installed (the message says what to install);
- ``offline``: a stream that does not open or stops sending frames for
  ``stall_seconds``, or a file/folder that has ended.

A source that fails to open or stops is retried with a backoff of 1, 2, 4 ...
up to 30 seconds (a missing reader is not retried; an ended file is not
reopened unless ``loop``). :meth:`OpenCVPlateCamera.stop` sets a stop event
and joins the threads for at most ``join_timeout`` seconds; OpenCV's own open
and read timeouts are set to ``io_timeout`` seconds so a dead RTSP server
cannot hold a thread for FFmpeg's default 30 s.
"""

from __future__ import annotations

import os as _os

# FFmpeg (inside OpenCV) prints stream errors straight to stderr, which would
# scribble over the console's screen: keep it quiet; our own log says what failed.
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlunsplit

from attendant.core.errors import InputError
from hardware.base import (
    DeviceError,
    DeviceState,
    DeviceStatus,
    PlateCamera,
    PlateRead,
    call_listeners,
    utc_now,
)
from hardware.plate_picture import frame_crop, plate_region, region_png
from hardware.urls import DeviceKind, DeviceUrl, Scheme

if TYPE_CHECKING:
    import numpy as np

    from hardware.plate_reader import PlateReader

__all__ = [
    "IMAGE_SUFFIXES",
    "OPENCV_SCHEMES",
    "OpenCVPlateCamera",
    "SourceSpec",
    "default_reader",
    "open_opencv_camera",
    "open_source_camera",
    "parse_opencv_url",
    "with_region",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0

_default_readers: dict[str | None, PlateReader] = {}
_default_reader_lock = threading.Lock()


def default_reader(region: str | None = None) -> PlateReader:
    """The process-wide :class:`PlateReader` cameras of ``region`` share when given none.

    One reader per region (``None``: region-free); each loads its own models
    (~60 MB) on its first read; reads are serialised by the reader.

    :raises InputError: an unknown region.
    """
    from hardware.plate_reader import PlateReader  # numpy: loaded with the first camera that reads

    with _default_reader_lock:
        if region not in _default_readers:
            _default_readers[region] = PlateReader(region=region)
        return _default_readers[region]


@dataclass(frozen=True)
class SourceSpec:
    """A parsed camera URL.

    ``kind``: ``"device"`` (``target`` is the index as text), ``"stream"``
    (``target`` is the URL for FFmpeg), ``"video"`` (a file path) or
    ``"folder"`` (a directory path). ``display`` is the URL with any
    password removed, for messages. ``loop``: replay files at their end.
    ``region``: the plate region code (``?region=us``) or None;
    ``vote_frames``: frames voted into one read (``?vote=N``).
    """

    kind: str
    target: str
    display: str
    loop: bool = False
    region: str | None = None
    vote_frames: int = 1

    @property
    def live(self) -> bool:
        """True for devices and network streams (they are retried when they stop)."""
        return self.kind in ("device", "stream")


def _region(url: DeviceUrl) -> str | None:
    """The ``region`` option, checked against the region files (lower case)."""
    from hardware.plate_regions import load_region

    region = url.options.text("region")
    if region is None:
        return None
    try:
        load_region(region)
    except InputError as exc:
        raise url.error(str(exc)) from None
    return region.lower()


def _vote(url: DeviceUrl) -> int:
    """The ``vote`` option: frames combined into one read, 1-10 (default 1)."""
    return int(url.options.integer("vote", 1, 10, 1) or 1)


def _device(url: DeviceUrl) -> SourceSpec:
    """``opencv://N``: a local device by index (option: ``region``)."""
    index = (url.parts.netloc or url.parts.path.strip("/")).strip()
    if not index.isdigit():
        raise url.error("opencv:// takes a device index such as opencv://0")
    return SourceSpec("device", str(int(index)), url.shown, region=_region(url), vote_frames=_vote(url))


def _stream(url: DeviceUrl) -> SourceSpec:
    """``rtsp://``, ``rtsps://``, ``http://``, ``https://``: a stream for FFmpeg,
    credentials and query included (the query is the camera's, less ``region``)."""
    if not url.parts.netloc:
        raise url.error(f"{url.scheme}:// needs a host, e.g. {url.example}")
    region, frames = _region(url), _vote(url)
    kept = [(k, v) for k, v in parse_qsl(url.parts.query, keep_blank_values=True)
            if k.lower() not in ("region", "vote")]
    target = urlunsplit(url.parts._replace(query=urlencode(kept))) if url.parts.query else url.url
    url.options.rest()
    return SourceSpec("stream", target, url.shown, region=region, vote_frames=frames)


def _file(url: DeviceUrl) -> SourceSpec:
    """``file:///path/video.mp4`` or ``file:///path/folder/`` (a folder when the
    path ends with ``/`` or is a directory), with ``loop``."""
    path = url.local_path()
    loop = bool(url.options.boolean("loop", False))
    kind = "folder" if path.endswith("/") or Path(path).is_dir() else "video"
    return SourceSpec(kind, path, url.shown, loop, _region(url), _vote(url))


def with_region(url: str, region: str) -> str:
    """``url`` with its ``region`` option set to ``region`` (replacing any given).

    Only cameras read by the local plate reader (the OpenCV schemes) take a
    region; other camera URLs (ANPR boxes read their own plates, stand-ins)
    are returned unchanged.

    :raises InputError: an unknown region, or a malformed OpenCV URL.
    """
    from urllib.parse import urlsplit

    from hardware.plate_regions import load_region

    load_region(region)
    scheme = url.partition("://")[0].strip().lower()
    if scheme not in {entry.name for entry in OPENCV_SCHEMES}:
        return url
    parts = urlsplit(url.strip())
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "region"]
    result = urlunsplit(parts._replace(query=urlencode([*kept, ("region", region.lower())])))
    parse_opencv_url(result)
    return result


def open_source_camera(spec: SourceSpec, *, lane: str | None = None, name: str | None = None) -> OpenCVPlateCamera:
    """The camera of a parsed source on ``lane`` (the scheme table's opener; nothing opens yet)."""
    return OpenCVPlateCamera(spec, lane=lane, name=name)


#: The OpenCV schemes with their parsers and opener (part of :data:`hardware.cameras.CAMERA`).
OPENCV_SCHEMES = (
    Scheme("opencv", _device, open_source_camera, "opencv://0"),
    Scheme("rtsp", _stream, open_source_camera, "rtsp://192.168.1.64:554/Streaming/Channels/101"),
    Scheme("rtsps", _stream, open_source_camera, "rtsps://192.168.1.64:322/stream1"),
    Scheme("file", _file, open_source_camera, "file:///var/lib/attendant/lane1/"),
    Scheme("http", _stream, open_source_camera, "http://192.168.1.64/mjpg/video.mjpg"),
    Scheme("https", _stream, open_source_camera, "https://192.168.1.64/mjpg/video.mjpg"),
)
_SOURCES = DeviceKind("camera", OPENCV_SCHEMES)


def parse_opencv_url(url: str) -> SourceSpec:
    """Check an OpenCV camera URL and say what it names (see the module docstring).

    Only the URL is checked here (and, for a ``file://`` path without a
    trailing ``/``, whether it is a folder); whether the file exists or the
    stream answers is found out on the camera's thread (and shown in
    ``status()``).

    :raises InputError: not a URL, a scheme that is not an OpenCV source, a
        device index that is not a number, a file URL without an absolute
        path, an unknown option.
    """
    spec: SourceSpec = _SOURCES.parse(url)
    return spec


class _SourceProblem(Exception):
    """The source cannot give frames now; ``state`` says how bad (faulted/offline)."""

    def __init__(self, message: str, state: DeviceState) -> None:
        super().__init__(message)
        self.state = state


class _SourceEnded(Exception):
    """A file or folder has no more frames."""


class _Source:
    """One opened source. ``frame()`` returns the current BGR frame, or None (nothing new yet)."""

    frames = 0

    def frame(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the source (idempotent)."""


def _capture_params(io_timeout: float) -> list[int]:
    import cv2

    ms = max(int(io_timeout * 1000), 1)
    return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]


class _FolderSource(_Source):
    """Images of a folder, in name order, one per frame()."""

    def __init__(self, spec: SourceSpec) -> None:
        folder = Path(spec.target)
        if not folder.is_dir():
            raise _SourceProblem(f"image folder not found: {folder}", DeviceState.FAULTED)
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise _SourceProblem(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}", DeviceState.FAULTED)
        self.folder = folder
        self.index = 0
        self.frames = 0

    def frame(self) -> np.ndarray | None:
        import cv2

        while self.index < len(self.files):
            path = self.files[self.index]
            self.index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("camera folder %s: cannot decode %s, skipped", self.folder, path.name)
                continue
            self.frames += 1
            return image
        raise _SourceEnded(f"{self.folder} ended after {self.frames} images")


class _VideoFileSource(_Source):
    """A video file played in real time: frame() gives the frame due at the elapsed wall time."""

    def __init__(self, spec: SourceSpec, io_timeout: float) -> None:
        import cv2

        path = Path(spec.target)
        if not path.is_file():
            raise _SourceProblem(f"video file not found: {path}", DeviceState.FAULTED)
        self.path = path
        self.cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, _capture_params(io_timeout))
        if not self.cap.isOpened():
            self.cap.release()
            raise _SourceProblem(f"cannot decode video file {path} (not a video OpenCV/FFmpeg can read)",
                                 DeviceState.FAULTED)
        fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.0 < fps < 1000.0 else 0.0
        self.started = time.monotonic()
        self.position = 0  # index of the next frame grab() would return
        self.frames = 0

    def frame(self) -> np.ndarray | None:
        if self.fps:
            due = int((time.monotonic() - self.started) * self.fps)
            while self.position < due:  # skip frames whose time has passed
                if not self.cap.grab():
                    raise _SourceEnded(f"{self.path} ended after {self.frames} sampled frames")
                self.position += 1
        ok, image = self.cap.read()
        if not ok or image is None:
            raise _SourceEnded(f"{self.path} ended after {self.frames} sampled frames")
        self.position += 1
        self.frames += 1
        return image

    def close(self) -> None:
        self.cap.release()


class _LiveSource(_Source):
    """A device or stream drained on its own thread; frame() waits for the next fresh frame.

    The grabber thread calls ``grab()`` continuously (so OpenCV's and
    FFmpeg's buffers never hold old frames) and decodes to BGR
    (``retrieve()``) only when a sample is wanted.
    """

    def __init__(self, spec: SourceSpec, io_timeout: float, stall_seconds: float, name: str) -> None:
        import cv2

        if spec.kind == "device":
            cap = cv2.VideoCapture(int(spec.target), cv2.CAP_ANY, _capture_params(io_timeout))
        else:
            cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, _capture_params(io_timeout))
        if not cap.isOpened():
            cap.release()
            raise _SourceProblem(f"cannot open {spec.display}", DeviceState.OFFLINE)
        self.display = spec.display
        self.stall_seconds = stall_seconds
        self.frames = 0
        self._cap = cap
        self._stop = threading.Event()
        self._want = threading.Event()
        self._got = threading.Event()
        self._lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._problem: str | None = None
        self._last_frame = time.monotonic()
        self._thread = threading.Thread(target=self._drain, name=f"{name} grabber", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._cap.grab():
                    if time.monotonic() - self._last_frame > self.stall_seconds:
                        with self._lock:
                            self._problem = f"no frames from {self.display} for {self.stall_seconds:g} s"
                        return
                    self._stop.wait(0.05)
                    continue
                self._last_frame = time.monotonic()
                if self._want.is_set():
                    ok, image = self._cap.retrieve()
                    if ok and image is not None:
                        with self._lock:
                            self._latest = image
                        self._want.clear()
                        self._got.set()
        except Exception as exc:  # noqa: BLE001 - a backend error ends this connection, not the camera
            with self._lock:
                self._problem = f"{self.display}: {exc}"
        finally:
            self._cap.release()
            self._got.set()  # wake a waiting frame()

    def frame(self) -> np.ndarray | None:
        self._got.clear()
        self._want.set()
        self._got.wait(min(self.stall_seconds, 2.0))
        with self._lock:
            problem, image, self._latest = self._problem, self._latest, None
        if problem:
            raise _SourceProblem(problem, DeviceState.OFFLINE)
        if image is None and not self._thread.is_alive():
            raise _SourceProblem(f"{self.display} stopped", DeviceState.OFFLINE)
        if image is not None:
            self.frames += 1
        return image

    def close(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)


class OpenCVPlateCamera(PlateCamera):
    """A plain camera (or a recording) read with OpenCV and the local plate reader.

    Build it with :func:`open_opencv_camera`. ``interval``: seconds between
    sampled frames; ``dedup_seconds``: a plate seen again within this many
    seconds of its last sighting is not reported again; ``min_confidence``
    (0..1): weaker reads are dropped; ``stall_seconds``: a live stream with
    no frame for this long is reconnected; ``io_timeout``: OpenCV's open/read
    timeout, seconds; ``join_timeout``: how long :meth:`stop` waits, seconds.

    Counters for the device-health view and tests: :attr:`frames` (frames
    sampled), :attr:`reads` (PlateReads delivered), :attr:`reader_calls`.
    """

    def __init__(self, spec: SourceSpec, *, lane: str | None = None, reader: PlateReader | None = None,
                 interval: float = 1.0, name: str | None = None, dedup_seconds: float = 5.0,
                 min_confidence: float = 0.6, stall_seconds: float = 10.0, io_timeout: float = 5.0,
                 join_timeout: float = 2.0) -> None:
        for label, value in (("interval", interval), ("dedup_seconds", dedup_seconds),
                             ("stall_seconds", stall_seconds), ("io_timeout", io_timeout),
                             ("join_timeout", join_timeout)):
            if not isinstance(value, (int, float)) or value < 0 or (value == 0 and label != "dedup_seconds"):
                raise InputError(f"{label} must be a positive number of seconds, got {value!r}")
        if not isinstance(min_confidence, (int, float)) or not 0.0 <= min_confidence <= 1.0:
            raise InputError(f"min_confidence must be between 0 and 1, got {min_confidence!r}")
        self.spec = spec
        self.lane = lane
        self.name = name or f"camera {spec.display}"
        self.interval = float(interval)
        self.dedup_seconds = float(dedup_seconds)
        self.min_confidence = float(min_confidence)
        self.stall_seconds = float(stall_seconds)
        self.io_timeout = float(io_timeout)
        self.join_timeout = float(join_timeout)
        self._reader = reader
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._status = DeviceStatus(DeviceState.UNKNOWN, "not started")
        self._last_seen: dict[str, float] = {}
        self._passage: list[tuple[str, float]] = []
        self._passage_crop: tuple[float, np.ndarray] | None = None  # the passage's surest frame's plate region
        self.frames = 0
        self.reads = 0
        self.reader_calls = 0

    @property
    def reader(self) -> PlateReader:
        """The plate reader in use (the shared :func:`default_reader` of the URL's region unless one was given)."""
        if self._reader is None:
            self._reader = default_reader(self.spec.region)
        return self._reader

    @property
    def running(self) -> bool:
        """True while the camera's thread is alive and not asked to stop."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive() and not self._stop_event.is_set()

    def status(self) -> DeviceStatus:
        """The last known health (see the module docstring); never does I/O."""
        with self._lock:
            return self._status

    def _set_status(self, state: DeviceState, message: str) -> None:
        with self._lock:
            changed = self._status.state != state or self._status.message != message
            if changed:
                self._status = DeviceStatus(state, message)
        if changed and state in (DeviceState.OFFLINE, DeviceState.FAULTED):
            log.warning("%s: %s", self.name, message)

    def start(self, on_read: Callable[[PlateRead], None]) -> None:
        """Start sampling and reading; returns at once.

        ``on_read(PlateRead)`` is called on the camera's thread; an exception
        in it is logged and the camera goes on.

        :raises InputError: ``on_read`` is not callable.
        :raises DeviceError: already started.
        """
        if not callable(on_read):
            raise InputError(f"{self.name}: the callback must be callable, got {on_read!r}")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise DeviceError(f"{self.name} is already running", device=self.name)
            self._stop_event = threading.Event()
            self._status = DeviceStatus(DeviceState.UNKNOWN, f"opening {self.spec.display}")
            self._thread = threading.Thread(target=self._run, args=(on_read, self._stop_event),
                                            name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the camera's thread; joins for at most ``join_timeout`` seconds."""
        with self._lock:
            thread = self._thread
            self._stop_event.set()
        if thread is None:
            return
        if thread is not threading.current_thread():
            thread.join(self.join_timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.1f s", self.name, self.join_timeout)
        with self._lock:
            if self._thread is thread and not thread.is_alive():
                self._thread = None
            self._status = DeviceStatus(DeviceState.UNKNOWN, "stopped")

    def _open(self) -> _Source:
        if self.spec.kind == "folder":
            return _FolderSource(self.spec)
        if self.spec.kind == "video":
            return _VideoFileSource(self.spec, self.io_timeout)
        return _LiveSource(self.spec, self.io_timeout, self.stall_seconds, self.name)

    def _run(self, on_read: Callable[[PlateRead], None], stop: threading.Event) -> None:
        backoff = BACKOFF_START
        while not stop.is_set():
            try:
                source = self._open()
            except _SourceProblem as problem:
                self._set_status(problem.state, f"{problem} (retry in {backoff:g} s)")
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except Exception as exc:  # noqa: BLE001 - OpenCV backends raise cv2.error and others
                self._set_status(DeviceState.FAULTED, f"cannot open {self.spec.display}: {exc} "
                                                      f"(retry in {backoff:g} s)")
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            try:
                outcome = self._sample(source, on_read, stop)
            finally:
                source.close()
            if outcome in ("stop", "reader"):
                return
            if outcome == "ended" and source.frames == 0:
                self._set_status(DeviceState.FAULTED, f"no readable frames in {self.spec.display} "
                                                      f"(retry in {backoff:g} s)")
                outcome = "lost"  # a file that yields nothing is retried, never spun on
            elif outcome == "ended":
                if not self.spec.loop:
                    return
                backoff = BACKOFF_START
                continue
            if source.frames:
                backoff = BACKOFF_START
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _sample(self, source: _Source, on_read: Callable[[PlateRead], None], stop: threading.Event) -> str:
        """Sample ``source`` until stop, its end or its loss: ``"stop"``, ``"ended"``, ``"lost"``, ``"reader"``."""
        while not stop.is_set():
            tick = time.monotonic()
            try:
                image = source.frame()
            except _SourceEnded as end:
                self._set_status(DeviceState.OFFLINE, f"{end}{' (looping)' if self.spec.loop else ''}")
                return "ended"
            except _SourceProblem as problem:
                self._set_status(problem.state, f"{problem} (reconnecting)")
                return "lost"
            if image is not None:
                at = utc_now()
                with self._lock:
                    self.frames += 1
                if self.status().state != DeviceState.OK:
                    self._set_status(DeviceState.OK, f"reading {self.spec.display}")
                try:
                    self._read_frame(image, at, on_read)
                except DeviceError as exc:  # the reader is missing: retrying will not help
                    self._set_status(DeviceState.FAULTED, str(exc))
                    return "reader"
            stop.wait(max(self.interval - (time.monotonic() - tick), 0.0))
        return "stop"

    def _vote(self, top: Any, image: np.ndarray) -> Any:
        """Add this frame's best read to the passage; the vote when the passage is complete
        (``vote_frames`` reads, or a frame without a read after some), else None. The passage
        keeps the surest frame's plate crop (``_passage_crop``: confidence, crop) for the picture."""
        from hardware.plate_vote import vote

        if top is not None:
            self._passage.append((top.text, float(top.confidence)))
            if self._passage_crop is None or float(top.confidence) > self._passage_crop[0]:
                self._passage_crop = (float(top.confidence), plate_region(image, top.box))
            if len(self._passage) < self.spec.vote_frames:
                return None
        elif not self._passage:
            return None
        reads, self._passage = self._passage, []
        return vote(reads)

    def _read_frame(self, image: np.ndarray, at: datetime, on_read: Callable[[PlateRead], None]) -> None:
        with self._lock:
            self.reader_calls += 1
        try:
            candidates = self.reader.read(image)
        except DeviceError:
            raise
        except Exception:  # noqa: BLE001 - one bad frame must not stop the camera
            log.exception("%s: plate reader failed on a frame", self.name)
            return
        if self.spec.vote_frames > 1:
            voted = self._vote(candidates[0] if candidates else None, image)
            if voted is None:
                return
            crop, self._passage_crop = self._passage_crop, None
            if voted.confidence < self.min_confidence:
                return
            text, confidence = voted.text, voted.confidence
        else:
            best = next((c for c in candidates if c.confidence >= self.min_confidence), None)
            if best is None:
                return
            text, confidence = best.text, best.confidence
        now = time.monotonic()
        last = self._last_seen.get(text)
        self._last_seen[text] = now
        self._last_seen = {p: t for p, t in self._last_seen.items() if now - t <= max(self.dedup_seconds, 60.0)}
        if last is not None and now - last < self.dedup_seconds:
            return
        # the read's plate cropped from the frame (a voted read: its passage's surest frame's)
        picture = region_png(crop[1] if crop else None) if self.spec.vote_frames > 1 else frame_crop(image, best.box)
        read = PlateRead(text, min(max(float(confidence), 0.0), 1.0), at, self.lane, "opencv", image=picture)
        with self._lock:
            self.reads += 1
        call_listeners([on_read], read, self.name)


def open_opencv_camera(url: str, *, lane: str | None = None, reader: PlateReader | None = None,
                       interval: float = 1.0, **options: Any) -> OpenCVPlateCamera:
    """Build the camera named by ``url`` (see the module docstring); opens nothing yet.

    ``lane`` goes on every read; ``reader`` defaults to the shared
    :func:`default_reader`; ``interval`` is seconds between sampled frames.
    ``options``: ``name``, ``dedup_seconds``, ``min_confidence``,
    ``stall_seconds``, ``io_timeout``, ``join_timeout``, ``loop`` (files).

    :raises InputError: a malformed or unsupported URL, a bad option.
    """
    spec = parse_opencv_url(url)
    loop = options.pop("loop", None)
    if loop is not None:
        if spec.live:
            raise InputError(f"camera URL {spec.display!r}: loop applies to files and folders only")
        spec = SourceSpec(spec.kind, spec.target, spec.display, bool(loop), spec.region, spec.vote_frames)
    allowed = {"name", "dedup_seconds", "min_confidence", "stall_seconds", "io_timeout", "join_timeout"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(f"open_opencv_camera: unknown option {', '.join(unknown)}")
    return OpenCVPlateCamera(spec, lane=lane, reader=reader, interval=interval, **options)
