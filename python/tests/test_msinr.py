"""The msinr Python package: round trips, strides, typed errors, threads, progress and cancel.

Small crops of samples/kodim23.png and few Adam steps keep it fast; scripts/test-python runs it
against the module built in build/python, `pytest python/tests` against an installed wheel.
"""
from __future__ import annotations

import concurrent.futures
import pathlib
import threading
import time

import numpy as np
import pytest
from PIL import Image

import msinr

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAST = dict(steps=8, threads=1, device="cpu")


@pytest.fixture(scope="module")
def kodim() -> np.ndarray:
    return np.asarray(Image.open(ROOT / "samples" / "kodim23.png").convert("RGB"))


@pytest.fixture(scope="module")
def crop(kodim) -> np.ndarray:
    return np.ascontiguousarray(kodim[200:232, 300:332])


@pytest.fixture(scope="module")
def encoded(crop) -> bytes:
    return msinr.encode(crop, **FAST)


@pytest.fixture(scope="module")
def model() -> msinr.Model:
    return msinr.Model.builtin()


def three_tiles(kodim, model) -> np.ndarray:
    """A strip three tiles wide and 16 pixels tall: two whole-width tiles and a narrow one (cheap; 40
    pixels, more than the quarter of a tile below which an edge would join its neighbour)."""
    t = model.tile_size
    return np.ascontiguousarray(kodim[100:116, 100:100 + 2 * t + 40])


# --- model and round trip --------------------------------------------------------------------

def test_version():
    assert msinr.__version__.count(".") == 2


def test_builtin_model(model):
    assert len(model.id) == 64 and int(model.id, 16) >= 0
    assert model.tile_size > 0
    assert model.levels and model.levels == sorted(model.levels)
    assert model.default_level in model.levels
    assert "tile_size" in repr(model)


def test_model_from_file_path_and_bytes(model):
    path = ROOT / "codec" / "models" / "natural.msm"
    assert msinr.Model(path).id == model.id
    assert msinr.Model(str(path)).id == model.id
    assert msinr.Model.load(path).id == model.id
    assert msinr.Model.from_bytes(path.read_bytes()).id == model.id
    faces = msinr.Model(ROOT / "codec" / "models" / "faces.msm")
    assert faces.id != model.id


def test_round_trip(crop, encoded):
    assert isinstance(encoded, bytes) and len(encoded) > 0
    out = msinr.decode(encoded)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous and out.flags.writeable
    mse = np.mean((out.astype(np.float64) - crop.astype(np.float64)) ** 2)
    assert msinr.psnr(crop, out) == pytest.approx(10 * np.log10(255.0 ** 2 / mse), abs=1e-6)
    assert msinr.psnr(crop, out) > 12.0  # far from noise even after 8 steps
    assert msinr.psnr(crop, crop) == float("inf")
    # Deterministic: the same input and options give the same bytes.
    assert msinr.encode(crop, **FAST) == encoded
    # Any bytes-like object decodes.
    assert np.array_equal(msinr.decode(bytearray(encoded)), out)
    assert np.array_equal(msinr.decode(memoryview(encoded)), out)


def test_decode_sizes(encoded):
    assert msinr.decode(encoded, width=64).shape == (64, 64, 3)
    assert msinr.decode(encoded, height=16).shape == (16, 16, 3)
    assert msinr.decode(encoded, 48, 24).shape == (24, 48, 3)
    assert msinr.decode(encoded, scale=1.5).shape == (48, 48, 3)


def test_info_fields(encoded, model):
    i = msinr.info(encoded)
    assert set(i) == {"width", "height", "level", "tile_size", "steps", "model_id", "file_bytes", "bpp", "tiles",
                      "tiles_across", "tiles_down", "merged_edges", "values_per_tile", "payload"}
    assert (i["tiles_across"], i["tiles_down"], i["merged_edges"]) == (1, 1, False)
    assert (i["width"], i["height"], i["steps"]) == (32, 32, 8)
    assert i["level"] == model.default_level
    assert i["tile_size"] == model.tile_size
    assert i["model_id"] == model.id
    assert i["file_bytes"] == len(encoded)
    assert i["bpp"] == pytest.approx(len(encoded) * 8 / (32 * 32))
    assert i["tiles"] == 1 and i["payload"] == "quantized"
    r = msinr.Encoder(model, **FAST).encode(np.zeros((32, 32, 3), np.uint8))
    assert (r.tiles, r.values_per_tile, r.payload) == (1, msinr.info(r.bytes)["values_per_tile"], "quantized")


def test_encoder_result_and_level(crop, model):
    level = model.levels[len(model.levels) // 2]
    r = msinr.Encoder(model, level=level, **FAST).encode(crop)
    assert r.level == level == msinr.info(r.bytes)["level"]
    assert r.bpp == pytest.approx(len(r.bytes) * 8 / crop.shape[0] / crop.shape[1])
    assert r.seconds > 0 and r.lr > 0 and r.device.startswith("cpu")
    assert r.bytes == msinr.encode(crop, level=level, model=model, **FAST)
    # The scalar reference engine is a device like the others (slow: a small crop and few steps).
    ref = msinr.Encoder(model, level=level, steps=2, threads=1, device="reference").encode(crop[:16, :16])
    assert "reference" in ref.device and msinr.info(ref.bytes)["steps"] == 2
    # A rate target picks a level the model has.
    assert msinr.info(msinr.encode(crop, bpp=2.0, **FAST))["level"] in model.levels


# --- inputs: strides, layouts, channels --------------------------------------------------------

def test_payload_modes_and_target_met(crop, model):
    level = model.default_level
    quantized = msinr.Encoder(model, level=level, **FAST).encode(crop)
    fp16 = msinr.Encoder(model, level=level, bits=16, **FAST).encode(crop)
    assert len(quantized.bytes) < len(fp16.bytes)
    assert quantized.target_met and quantized.psnr > 0
    missed = msinr.Encoder(model, bpp=0.001, **FAST).encode(crop)
    assert not missed.target_met


def test_fit_and_refit_options_reach_the_encoder(crop, model):
    level = model.default_level
    plain = msinr.Encoder(model, level=level, **FAST).encode(crop)
    for changed in (dict(lr_schedule="cosine"), dict(lr_schedule=msinr.LrSchedule.COSINE), dict(pixel_fraction=0.5)):
        r = msinr.Encoder(model, level=level, **changed, **FAST).encode(crop)
        assert r.bytes != plain.bytes and r.fit_psnr != plain.fit_psnr, changed
    # The refit comes after the fit: the same fit underneath.
    no_refit = msinr.Encoder(model, level=level, refit_steps=0, **FAST).encode(crop)
    assert no_refit.fit_psnr == plain.fit_psnr and no_refit.psnr <= plain.psnr


def test_adaptive_tile_levels_decode_to_the_reported_psnr(kodim, model):
    image = np.ascontiguousarray(kodim[0:256, 0:256])  # 4 tiles of 128
    level = model.default_level
    for tile_levels in ("adaptive", msinr.TileLevels.ADAPTIVE):
        r = msinr.Encoder(model, level=level, tile_levels=tile_levels, **FAST).encode(image)
        decoded = msinr.decode(r.bytes, model=model)
        mse = np.mean((decoded.astype(np.float64) - image.astype(np.float64)) ** 2)
        assert abs(10 * np.log10(255.0 ** 2 / mse) - r.psnr) < 1e-9
        assert r.bytes[8] in (2, 3)  # version 3 when a tile moved, else the uniform file
    # The default is 'auto': the adaptive file at a fixed level, one level for fp16.
    assert msinr.EncodeOptions().tile_levels == msinr.TileLevels.AUTO
    assert msinr.Encoder(model, level=level, **FAST).encode(image).bytes == r.bytes
    assert msinr.Encoder(model, level=level, tile_levels="auto", bits=16, **FAST).encode(image).bytes[8] == 1


def test_merged_edges_by_default_and_in_info(kodim, model):
    image = np.ascontiguousarray(kodim[0:136, 0:200])  # 136 = 128 + 8: the 8-pixel row joins the tile above
    merged = msinr.Encoder(model, tile_levels="uniform", **FAST).encode(image)
    grid = msinr.Encoder(model, tile_levels="uniform", merge_edges=False, **FAST).encode(image)
    assert msinr.EncodeOptions().merge_edges is True
    assert merged.bytes[8] == 4 and grid.bytes[8] == 2
    assert merged.tiles == 2 and grid.tiles == 4
    assert len(merged.bytes) < len(grid.bytes)
    info = msinr.info(merged.bytes)
    assert (info["tiles_across"], info["tiles_down"], info["merged_edges"]) == (2, 1, True)
    assert msinr.info(grid.bytes)["merged_edges"] is False
    decoded = msinr.decode(merged.bytes, model=model)
    mse = np.mean((decoded.astype(np.float64) - image.astype(np.float64)) ** 2)
    assert abs(10 * np.log10(255.0 ** 2 / mse) - merged.psnr) < 1e-9


def test_strided_input_equals_contiguous(kodim):
    big = kodim[0:128, 0:128]  # itself a view into the full image: row stride 768*3
    views = {
        "every other pixel": big[::2, ::2],
        "channels reversed (negative stride)": big[:64, :64, ::-1],
        "flipped rows (negative stride)": big[63::-1, :64],
        "fortran order": np.asfortranarray(big[:64, :64]),
        "rgb out of rgba": np.dstack([big[:64, :64], np.full((64, 64, 1), 7, np.uint8)])[..., :3],
    }
    for name, v in views.items():
        assert not v.flags.c_contiguous, name
        assert msinr.encode(v, **FAST) == msinr.encode(np.ascontiguousarray(v), **FAST), name


def test_grey_rgba_and_pillow_inputs(crop):
    grey = np.ascontiguousarray(crop[..., 1])
    as_rgb = np.repeat(grey[..., None], 3, axis=2)
    assert msinr.encode(grey, **FAST) == msinr.encode(as_rgb, **FAST)
    assert msinr.encode(grey[..., None], **FAST) == msinr.encode(as_rgb, **FAST)
    rgba = np.dstack([crop, np.full(crop.shape[:2], 200, np.uint8)])
    assert msinr.encode(rgba, **FAST) == msinr.encode(crop, **FAST)
    assert msinr.encode(Image.fromarray(crop), **FAST) == msinr.encode(crop, **FAST)
    out = msinr.decode(msinr.encode(grey, **FAST))
    assert out.shape == (32, 32, 3)


def test_read_only_input(crop):
    ro = crop.copy()
    ro.flags.writeable = False
    assert msinr.encode(ro, **FAST) == msinr.encode(crop, **FAST)


# --- errors ------------------------------------------------------------------------------------

def test_error_hierarchy():
    for cls in (msinr.InvalidArgumentError, msinr.IoError, msinr.CorruptError, msinr.UnsupportedError,
                msinr.LimitError, msinr.ModelMismatchError, msinr.DeviceError, msinr.CancelledError,
                msinr.InternalError):
        assert issubclass(cls, msinr.Error) and issubclass(cls, Exception)
    assert issubclass(msinr.InvalidArgumentError, ValueError)
    assert issubclass(msinr.CorruptError, ValueError)
    assert issubclass(msinr.IoError, OSError)
    assert len({c.code for c in msinr.Error.__subclasses__()}) == len(msinr.ErrorCode)


def test_corrupt_bytes_raise(encoded):
    with pytest.raises(msinr.CorruptError) as e:
        msinr.decode(b"definitely not an msinr file")
    assert e.value.code == msinr.ErrorCode.CORRUPT and isinstance(e.value, msinr.Error)
    with pytest.raises(msinr.CorruptError):
        msinr.info(b"\x00" * 64)
    with pytest.raises(msinr.CorruptError):
        msinr.decode(encoded[: len(encoded) // 2])  # truncated
    flipped = bytearray(encoded)
    flipped[-3] ^= 0x40
    with pytest.raises(msinr.CorruptError):
        msinr.decode(bytes(flipped))  # checksum
    with pytest.raises(msinr.Error):
        msinr.decode(b"")


def test_wrong_dtype_and_shape_raise(crop):
    bad = {
        "float": crop.astype(np.float32),
        "uint16": crop.astype(np.uint16),
        "1-D": crop.reshape(-1),
        "4-D": crop[None],
        "5 channels": np.zeros((8, 8, 5), np.uint8),
        "empty": np.zeros((0, 8, 3), np.uint8),
        "list of ints": [[1, 2], [3, 4000]],
    }
    for name, v in bad.items():
        with pytest.raises(msinr.InvalidArgumentError) as e:
            msinr.encode(v, **FAST)
        assert e.value.code == msinr.ErrorCode.INVALID_ARGUMENT, name
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.decode("a str is not bytes")
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.psnr(crop, crop[:16])


def test_options_raise(crop, model):
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.encode(crop, steps=-1)
    for bad in (dict(pixel_fraction=0.0), dict(refit_pixel_fraction=1.5), dict(refit_steps=-1), dict(refit_lr=-1.0),
                dict(lr_schedule="linear"), dict(tile_levels="diagonal"),
                dict(tile_levels="adaptive", bits=16)):
        with pytest.raises(msinr.InvalidArgumentError, match=next(iter(bad))):
            msinr.Encoder(**bad)
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.Encoder(steps=-1)
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.encode(crop, level=max(model.levels) + 100, **FAST)
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.encode(crop, device="tpu")
    with pytest.raises(TypeError):
        msinr.encode(crop, stepz=3)
    with pytest.raises(TypeError):
        msinr.encode(crop, steps="many")


def test_limits_raise_before_copying():
    # 20000 x 20000 pixels as a zero-stride view: over 2^28 pixels, refused without 1.2 GB copied.
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3))
    with pytest.raises(msinr.LimitError) as e:
        msinr.encode(huge)
    assert e.value.code == msinr.ErrorCode.LIMIT
    with pytest.raises(msinr.LimitError):
        msinr.encode(np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (1, 40000, 3)))


def test_model_errors(encoded):
    with pytest.raises(msinr.IoError) as e:
        msinr.Model("/nonexistent/model.msm")
    assert isinstance(e.value, OSError) and e.value.code == msinr.ErrorCode.IO
    with pytest.raises(msinr.CorruptError):
        msinr.Model.from_bytes(b"junk" * 100)
    faces = msinr.Model(ROOT / "codec" / "models" / "faces.msm")
    with pytest.raises(msinr.ModelMismatchError) as e:
        msinr.decode(encoded, model=faces)
    assert e.value.code == msinr.ErrorCode.MODEL_MISMATCH


# --- threads, the GIL, progress ----------------------------------------------------------------

def test_parallel_threads_match_sequential(kodim):
    images = [np.ascontiguousarray(kodim[y:y + 32, x:x + 40]) for y, x in
              [(0, 0), (100, 200), (300, 500), (450, 700), (250, 50), (380, 380)]]
    sequential = [msinr.encode(im, **FAST) for im in images]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda im: msinr.encode(im, **FAST), images))
        decoded = list(pool.map(lambda b: msinr.decode(b, threads=1), parallel))
    assert parallel == sequential
    for b, d in zip(sequential, decoded):
        assert np.array_equal(msinr.decode(b), d)


def test_gil_released_during_encode(kodim, model):
    """The main thread keeps running Python while another thread is inside encode."""
    t = model.tile_size
    image = np.ascontiguousarray(kodim[:t, :t])  # one whole tile
    span = {}

    def work():
        span["start"] = time.perf_counter()
        msinr.encode(image, steps=10, threads=1, device="cpu")
        span["end"] = time.perf_counter()

    t = threading.Thread(target=work)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    start, end = span["start"], span["end"]
    middle = [x for x in ticks if start + 0.2 * (end - start) < x < end - 0.2 * (end - start)]
    # Holding the GIL for the whole call would leave no tick in the middle 60% of it.
    assert end - start > 0.05, "encode too quick to tell"
    assert len(middle) >= 5, (len(middle), end - start)


def test_progress_called(kodim, model):
    image = three_tiles(kodim, model)
    calls = []
    callers = set()

    def progress(done, total):
        calls.append((done, total))
        callers.add(threading.get_ident())

    msinr.encode(image, progress=progress, steps=4, threads=2, device="cpu", tile_levels="uniform")
    total = calls[-1][1]
    assert total == 3
    assert [d for d, _ in calls] == list(range(1, total + 1))
    assert all(t == total for _, t in calls)
    # The default also fits the tiles predicted to move at another level: the bar still only moves
    # forward and ends full.
    calls.clear()
    msinr.encode(image, progress=progress, steps=4, threads=2, device="cpu")
    fractions = [d / t for d, t in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    r = msinr.Encoder(progress=lambda d, t: True, steps=4, threads=1, device="cpu").encode(image)
    assert len(r.bytes) > 0


def test_progress_false_cancels(kodim, model):
    image = three_tiles(kodim, model)
    calls = []

    def stop(done, total):
        calls.append(done)
        return False

    with pytest.raises(msinr.CancelledError) as e:
        msinr.encode(image, progress=stop, steps=4, threads=1, device="cpu")
    assert e.value.code == msinr.ErrorCode.CANCELLED
    assert calls == [1]


def test_progress_exception_cancels_and_propagates(kodim, model):
    image = three_tiles(kodim, model)
    calls = []
    boom = KeyError("stop here")

    def raising(done, total):
        calls.append(done)
        if done == 2:
            raise boom

    with pytest.raises(KeyError) as e:
        msinr.encode(image, progress=raising, steps=4, threads=1, device="cpu")
    assert e.value is boom
    assert calls == [1, 2]
    with pytest.raises(msinr.InvalidArgumentError):
        msinr.encode(image, progress="not callable", **FAST)
    # The module is still usable afterwards.
    assert msinr.encode(image[:16, :16], **FAST)
