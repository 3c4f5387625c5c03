"""OpenCV plain cameras: URLs, image folders and video files through the real plate reader.

Frames are made here with OpenCV (a white plate with black ``cv2.putText``
text on a grey background), written as PNG files and as an MJPG ``.avi``
with ``cv2.VideoWriter``, then read back through :class:`OpenCVPlateCamera`
and RapidOCR. One real photo from ``../shared/data/plates-eu``
(openalpr/benchmarks, AGPL-3.0; copied to ``tmp_path`` only) is read through
the same path when that folder exists.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from attendant.core.errors import InputError
from hardware.base import DeviceError, DeviceState, PlateRead
from hardware.camera_opencv import OpenCVPlateCamera, open_opencv_camera, parse_opencv_url
from hardware.plate_reader import PlateReader, TextLine, normalise_plate, plate_candidates

cv2 = pytest.importorskip("cv2")

PLATES_EU = Path(__file__).resolve().parents[2] / "shared" / "data" / "plates-eu"


def plate_frame(text: str | None = "AB12CDE") -> np.ndarray:
    """A 640x480 grey frame with a white plate and thick black text (or no plate)."""
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    if text:
        cv2.rectangle(frame, (170, 200), (470, 270), (255, 255, 255), -1)
        cv2.rectangle(frame, (170, 200), (470, 270), (0, 0, 0), 2)
        cv2.putText(frame, text, (185, 252), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4, cv2.LINE_AA)
    return frame


def write_folder(folder: Path, texts: list[str | None]) -> Path:
    folder.mkdir()
    for i, text in enumerate(texts):
        assert cv2.imwrite(str(folder / f"frame_{i:03d}.png"), plate_frame(text))
    return folder


def write_video(path: Path, text: str, frames: int = 8, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(plate_frame(text))
    writer.release()
    assert path.stat().st_size > 0
    return path


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Collector:
    def __init__(self) -> None:
        self.reads: list[PlateRead] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, read: PlateRead) -> None:
        with self.lock:
            self.reads.append(read)
            self.threads.add(threading.current_thread().name)

    @property
    def plates(self) -> list[str]:
        with self.lock:
            return [read.plate for read in self.reads]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    """One loaded reader for the module (model load ~0.5-2 s)."""
    pytest.importorskip("rapidocr", reason="plate reader not installed: pip install rapidocr==3.10.0 onnxruntime")
    plate_reader = PlateReader()
    plate_reader.load()
    return plate_reader


def run_until_done(camera: OpenCVPlateCamera, timeout: float = 15.0) -> Collector:
    """Start ``camera``, wait until its file/folder has ended, stop it; returns the reads."""
    got = Collector()
    camera.start(got)
    assert wait_until(lambda: not camera.running, timeout), camera.status()
    camera.stop()
    return got


# --- URLs ---------------------------------------------------------------------------------------


def test_urls_name_devices_streams_files_and_folders(tmp_path):
    assert parse_opencv_url("opencv://0").kind == "device"
    assert parse_opencv_url("opencv://2").target == "2"
    stream = parse_opencv_url("rtsp://admin:secret@10.0.0.7:554/Streaming/Channels/101")
    assert stream.kind == "stream" and stream.live
    assert stream.target.startswith("rtsp://admin:secret@")  # FFmpeg gets the credentials
    assert "secret" not in stream.display  # messages do not
    assert parse_opencv_url("http://cam.local/mjpg/video.mjpg").kind == "stream"
    assert parse_opencv_url(f"file://{tmp_path}/").kind == "folder"
    assert parse_opencv_url(f"file://{tmp_path}").kind == "folder"
    video = parse_opencv_url(f"file://{tmp_path}/lane1.mp4?loop=1")
    assert (video.kind, video.target, video.loop) == ("video", f"{tmp_path}/lane1.mp4", True)
    for bad in ("opencv://front", "standin://", "ftp://host/x", "file://", "file://otherhost/x.mp4",
                f"file://{tmp_path}/a.mp4?speed=2", "rtsp:///nohost", "not a url", 42):
        with pytest.raises(InputError):
            parse_opencv_url(bad)
    with pytest.raises(InputError):
        open_opencv_camera("rtsp://cam/1", loop=True)
    with pytest.raises(InputError):
        open_opencv_camera("opencv://0", interval=0)


# --- plate filter (pure) ------------------------------------------------------------------------


def line(text: str, x: float, y: float, w: float, h: float, score: float = 0.99) -> TextLine:
    return TextLine(text, score, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def test_plate_filter_normalises_merges_and_ranks():
    assert normalise_plate("rk-755 aj") == "RK755AJ"
    assert normalise_plate("TS₅260AK") == "TS260AK"  # a coat of arms read as a subscript digit
    assert normalise_plate("ŠK·123") == "SK123"
    found = plate_candidates([
        line("BS", 100, 200, 40, 30),  # a plate split in two lines on one baseline
        line("47040", 150, 201, 100, 30),
        line("Berlingo", 100, 100, 160, 30),  # lower-case: a badge, not a plate
        line("GB", 60, 205, 20, 14),  # the EU band: too short, too small to merge
        line("©O A.Brekke 2012", 300, 400, 200, 20),
    ])
    assert [c.text for c in found] == ["BS47040", "47040"]
    assert found[0].box == (100, 200, 150, 31)
    assert 0.0 <= found[0].confidence <= 1.0
    # letters and digits beat a word of the same confidence; an all-letter plate is still read
    assert [c.text for c in plate_candidates([line("NORTH", 0, 0, 100, 20), line("WA56660", 0, 50, 120, 20)])] == [
        "WA56660", "NORTH"]
    assert plate_candidates([line("AB12CDE", 0, 0, 100, 20, score=0.3)]) == []  # below min_confidence


# --- the reader ---------------------------------------------------------------------------------


def test_reader_reads_synthetic_plate(reader):
    found = reader.read(plate_frame("AB12CDE"))
    assert found and found[0].text == "AB12CDE"
    x, y, w, h = found[0].box
    assert 170 <= x and y >= 195 and x + w <= 475 and y + h <= 275  # inside the drawn plate
    assert reader.read(plate_frame(None)) == []
    with pytest.raises(InputError):
        reader.read(np.zeros((10, 10), dtype=np.float32))


def test_reader_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import rapidocr -> ImportError
    with pytest.raises(DeviceError, match="plate reader not installed: pip install rapidocr"):
        PlateReader().read(plate_frame())


@pytest.mark.skipif(not PLATES_EU.is_dir(), reason="../shared/data/plates-eu is absent (fresh clone)")
def test_real_photo_through_the_opencv_folder_path(reader, tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    shutil.copy(PLATES_EU / "test_002.jpg", folder / "test_002.jpg")
    label = (PLATES_EU / "test_002.txt").read_text().strip().split("\t")
    camera = open_opencv_camera(f"file://{folder}/", lane="E1", reader=reader, interval=0.01)
    got = run_until_done(camera)
    assert got.plates == [label[5]] == ["RK755AJ"]


# --- the camera ---------------------------------------------------------------------------------


def test_folder_camera_delivers_plate_reads(reader, tmp_path):
    folder = write_folder(tmp_path / "lane", [None, "AB12CDE", "AB12CDE"])
    camera = open_opencv_camera(f"file://{folder}/", lane="E1", reader=reader, interval=0.02)
    assert camera.status().state == DeviceState.UNKNOWN and camera.reader_calls == 0
    got = run_until_done(camera)
    assert camera.frames == 3 and camera.reader_calls == 3
    assert got.plates == ["AB12CDE"]  # the second sighting within dedup_seconds is not repeated
    read = got.reads[0]
    assert read.source == "opencv" and read.lane == "E1" and 0.6 <= read.confidence <= 1.0
    assert read.at.utcoffset() == timedelta(0)
    assert got.threads == {camera.name}  # delivered on the camera's own thread
    assert camera.status().state == DeviceState.UNKNOWN and camera.status().message == "stopped"


def _crop_of(read: PlateRead) -> np.ndarray:
    assert read.image is not None and read.image.startswith(b"\x89PNG")
    crop = cv2.imdecode(np.frombuffer(read.image, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None
    return crop


@pytest.mark.parametrize("vote", [1, 3], ids=["one-frame", "voted"])
def test_reads_carry_the_plate_cropped_from_the_frame(reader, tmp_path, vote):
    """The read's picture is the plate around the text box (the 300x70 white plate of plate_frame, on grey),
    not the whole 640x480 frame; a voted read carries its passage's surest frame's crop."""
    folder = write_folder(tmp_path / "lane", ["SD62UVF"] * vote + [None])
    camera = open_opencv_camera(f"file://{folder}/?vote={vote}", lane="E1", reader=reader, interval=0.01)
    got = run_until_done(camera)
    assert got.plates == ["SD62UVF"]
    crop = _crop_of(got.reads[0])
    height, width = crop.shape[:2]
    assert 200 <= width <= 320 and 30 <= height <= 110  # the plate with a margin, not the frame
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    assert (grey > 200).mean() > 0.5 and grey.min() < 50  # mostly the white plate, with its black text
    assert (grey == 128).mean() < 0.2  # little of the grey background around it


def test_plate_region_clips_to_the_frame_and_bounds_the_size():
    from hardware.plate_picture import (
        MARGIN_X,
        MARGIN_Y,
        MAX_WIDTH,
        frame_crop,
        plate_region,
    )

    frame = plate_frame("AB12CDE")
    edge = plate_region(frame, (600, 460, 80, 40))  # past the corner: clipped
    assert edge is not None and edge.shape[:2] == (480 - (460 - round(40 * MARGIN_Y)), 640 - (600 - round(80 * MARGIN_X)))
    wide = np.full((400, 2000, 3), 255, np.uint8)
    assert plate_region(wide, (0, 100, 2000, 200)).shape[1] == MAX_WIDTH
    assert plate_region(frame, (700, 500, 10, 10)) is None  # outside the frame
    assert frame_crop(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (170, 200, 300, 70)).startswith(b"\x89PNG")


def test_folder_dedup_window_and_a_failing_callback(reader, tmp_path):
    folder = write_folder(tmp_path / "lane", ["AB12CDE", "XY34ZZZ", "AB12CDE"])
    got = Collector()

    def flaky(read: PlateRead) -> None:
        got(read)
        if len(got.reads) == 1:
            raise RuntimeError("a consumer bug")

    camera = open_opencv_camera(f"file://{folder}", reader=reader, interval=0.01, dedup_seconds=0)
    camera.start(flaky)
    assert wait_until(lambda: not camera.running, 15)
    status = camera.status()
    camera.stop()
    assert got.plates == ["AB12CDE", "XY34ZZZ", "AB12CDE"]  # no window: every sighting; the bug did not stop it
    assert status.state == DeviceState.OFFLINE and "ended after 3 images" in status.message


def test_video_file_camera_delivers_plate_read(reader, tmp_path):
    video = write_video(tmp_path / "lane.avi", "AB12CDE")
    camera = open_opencv_camera(video.as_uri(), lane="X2", reader=reader, interval=0.1)
    got = run_until_done(camera)
    assert camera.frames >= 1
    assert got.plates == ["AB12CDE"]
    assert got.reads[0].lane == "X2"


class MJPEGServer:
    """A local HTTP server sending ``frames`` JPEGs as multipart/x-mixed-replace (an MJPEG camera)."""

    def __init__(self, frame: np.ndarray, frames: int, fps: float = 20.0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        jpeg = cv2.imencode(".jpg", frame)[1].tobytes()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for _ in range(frames):
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: %d\r\n\r\n" % len(jpeg) + jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1 / fps)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mjpg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_mjpeg_stream_delivers_then_goes_offline_and_reconnects(reader):
    server = MJPEGServer(plate_frame("KA77BCD"), frames=30)  # 1.5 s of stream per connection
    camera = open_opencv_camera(server.url, lane="E2", reader=reader, interval=0.2, stall_seconds=0.5,
                                io_timeout=1.0)
    got = Collector()
    try:
        camera.start(got)
        assert wait_until(lambda: got.plates, 10)
        assert got.plates == ["KA77BCD"] and got.reads[0].lane == "E2"
        assert camera.status().state == DeviceState.OK
        assert wait_until(lambda: camera.status().state == DeviceState.OFFLINE, 10)  # the stream ended
        assert "no frames from" in camera.status().message
        assert wait_until(lambda: camera.status().state == DeviceState.OK, 10)  # reconnected after the backoff
        assert got.plates == ["KA77BCD"]  # the same car again within dedup_seconds: not repeated
    finally:
        camera.stop()
        server.close()
    assert not camera.running


def test_missing_file_is_faulted_not_raised(reader, tmp_path):
    camera = open_opencv_camera((tmp_path / "missing.avi").as_uri(), reader=reader, interval=0.05)
    got = Collector()
    started = time.monotonic()
    camera.start(got)
    assert time.monotonic() - started < 0.5  # start() never blocks on the source
    assert wait_until(lambda: camera.status().state == DeviceState.FAULTED, 5)
    assert "video file not found" in camera.status().message and "retry in" in camera.status().message
    assert camera.running  # still retrying with backoff
    started = time.monotonic()
    camera.stop()
    assert time.monotonic() - started < camera.join_timeout + 0.5
    assert not camera.running and camera._thread is None
    assert got.reads == [] and camera.reader_calls == 0


def test_unreachable_stream_is_offline_and_retried(reader):
    camera = open_opencv_camera("http://127.0.0.1:9/nothing.mjpg", reader=reader, io_timeout=1.0)
    camera.start(Collector())
    assert wait_until(lambda: camera.status().state == DeviceState.OFFLINE, 8)
    assert "cannot open http://127.0.0.1:9/nothing.mjpg (retry in" in camera.status().message
    camera.stop()
    assert not camera.running


def test_start_twice_is_refused_and_reader_missing_faults_the_camera(tmp_path, monkeypatch):
    folder = write_folder(tmp_path / "lane", ["AB12CDE"])
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    camera = open_opencv_camera(f"file://{folder}/", reader=PlateReader(), interval=0.05)
    camera.start(Collector())
    with pytest.raises(DeviceError):
        camera.start(Collector())
    assert wait_until(lambda: camera.status().state == DeviceState.FAULTED, 5)
    assert "pip install rapidocr" in camera.status().message
    camera.stop()
    with pytest.raises(InputError):
        camera.start("not callable")  # type: ignore[arg-type]
