"""msinr: an image codec built on meta-learned sparse implicit neural representations.

    import msinr, numpy as np
    data = msinr.encode(np.asarray(PIL.Image.open("a.png").convert("RGB")), level=4)
    image = msinr.decode(data)          # numpy uint8, HxWx3

Images are numpy uint8 arrays, HxWx3 (RGB), HxWx4 (alpha dropped), HxW or HxWx1 (grey), with
any strides; anything numpy.asarray accepts (a Pillow image, say) works too. Decodes return
HxWx3. encode and decode release the GIL: threads encoding different images run in parallel
(pass threads=1 to each then). Every failure raises a subclass of msinr.Error.
See docs/python.md.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np

from . import _msinr
from ._msinr import Device, EncodeOptions, EncodeResult, ErrorCode, LrSchedule, Model, TileLevels

__version__: str = _msinr.version()

__all__ = [
    "encode", "decode", "info", "psnr", "Encoder", "Model", "EncodeOptions", "EncodeResult", "Device",
    "LrSchedule", "TileLevels", "ErrorCode", "Error", "InvalidArgumentError", "IoError", "CorruptError", "UnsupportedError",
    "LimitError", "ModelMismatchError", "DeviceError", "CancelledError", "InternalError",
]

BytesLike = Union[bytes, bytearray, memoryview]
Progress = Callable[[int, int], Optional[bool]]


# Errors: one class per msinr::ErrorCode, all under msinr.Error (which carries .code).
class Error(Exception):
    """Every error msinr raises. ``code`` is an :class:`ErrorCode`; ``str(e)`` the message."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str = "", code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = ErrorCode(code)


class InvalidArgumentError(Error, ValueError):
    """An argument out of contract: wrong dtype or shape, an option out of range."""
    code = ErrorCode.INVALID_ARGUMENT


class IoError(Error, OSError):
    """A file could not be opened, read or written."""
    code = ErrorCode.IO


class CorruptError(Error, ValueError):
    """Bytes that claim to be a .msinr/.msm file but break its rules (truncated, bad checksum)."""
    code = ErrorCode.CORRUPT


class UnsupportedError(Error):
    """A valid-looking input this build does not handle (a future version, no built-in model)."""
    code = ErrorCode.UNSUPPORTED


class LimitError(Error):
    """Dimensions or sizes beyond the limits (32768 per side, 2**28 pixels)."""
    code = ErrorCode.LIMIT


class ModelMismatchError(Error):
    """A file made with another model than the one given (its id is in the message)."""
    code = ErrorCode.MODEL_MISMATCH


class DeviceError(Error):
    """The requested compute device is missing or failed (device='cuda' without a GPU)."""
    code = ErrorCode.DEVICE


class CancelledError(Error):
    """The progress callback returned False."""
    code = ErrorCode.CANCELLED


class InternalError(Error):
    """A broken invariant: a bug in msinr."""
    code = ErrorCode.INTERNAL


_msinr._set_error_classes({int(c.code): c for c in (
    InvalidArgumentError, IoError, CorruptError, UnsupportedError, LimitError, ModelMismatchError,
    DeviceError, CancelledError, InternalError)})


def _options(level: Optional[int], bpp: Optional[float], psnr: Optional[float], steps: int,
             extra: dict[str, Any], caller: str) -> EncodeOptions:
    o = EncodeOptions()
    if level is not None:
        o.level = level
    if bpp is not None:
        o.target_bpp = bpp
    if psnr is not None:
        o.target_psnr = psnr
    o.steps = steps
    # Any other EncodeOptions field by name (lr, threads, device, and fields added later).
    for name, value in extra.items():
        if name.startswith("_") or not hasattr(o, name):
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
        if name == "device" and isinstance(value, str):
            try:
                value = Device[value.upper()]
            except KeyError:
                raise InvalidArgumentError(f"device must be 'auto', 'cpu', 'cuda' or 'reference', not {value!r}") from None
        if name == "lr_schedule" and isinstance(value, str):
            try:
                value = LrSchedule[value.upper()]
            except KeyError:
                raise InvalidArgumentError(f"lr_schedule must be 'constant' or 'cosine', not {value!r}") from None
        if name == "tile_levels" and isinstance(value, str):
            try:
                value = TileLevels[value.upper()]
            except KeyError:
                raise InvalidArgumentError(f"tile_levels must be 'auto', 'uniform' or 'adaptive', not {value!r}") from None
        setattr(o, name, value)
    return o


class Encoder:
    """Encodes with one model and fixed options (checked here); reusable and thread-safe.

    ``Encoder(model, level=4, steps=50).encode(image)`` returns an :class:`EncodeResult`
    (``.bytes``, ``.level``, ``.bpp``, ``.psnr``, ``.target_met``, ``.seconds``, ``.lr``, ``.device``).
    """

    def __init__(self, model: Optional[Model] = None, *, level: Optional[int] = None,
                 bpp: Optional[float] = None, psnr: Optional[float] = None, steps: int = 100,
                 progress: Optional[Progress] = None, **options: Any) -> None:
        self.model = model
        self.options = _options(level, bpp, psnr, steps, options, "Encoder")
        self.progress = progress
        _msinr.check_encode_options(self.options, model)

    def encode(self, image: Any) -> EncodeResult:
        return _msinr.encode(np.asarray(image), self.options, self.model, self.progress)


def encode(image: Any, level: Optional[int] = None, bpp: Optional[float] = None,
           psnr: Optional[float] = None, steps: int = 100, model: Optional[Model] = None,
           progress: Optional[Progress] = None, **options: Any) -> bytes:
    """Encodes an image to .msinr bytes.

    image: uint8 array, HxWx3 / HxWx4 / HxW / HxWx1, any strides (or anything numpy.asarray takes).
    level: a model level (see Model.levels); else bpp: the best PSNR at or under this many bits per
    pixel; else psnr: the smallest file reaching this PSNR (both search levels and quantizer steps;
    Encoder.encode's result says target_met); else the model's default level. steps: Adam steps per tile. model: a Model (default: built-in).
    progress(done, total): called as tiles finish, from worker threads holding the GIL; return
    False to cancel (CancelledError); an exception it raises cancels and propagates.
    options: other EncodeOptions fields: lr (0: the model's), lr_schedule ('constant', 'cosine'), tile_levels ('auto', the default: per-tile levels where they apply; 'uniform'; 'adaptive'), merge_edges (True: thin edges join their neighbour tile),
    pixel_fraction (each step on this fraction of a tile's pixels, 1), threads (0: all cores),
    device ('auto', 'cpu', 'cuda', 'reference'), bits (0: quantized, the default; 16: fp16),
    quant_loss_db (quantized: largest PSNR loss against the fit, 0.5), refit_steps (20),
    refit_lr (0: the fit's / 300), refit_pixel_fraction (0.25).
    """
    o = _options(level, bpp, psnr, steps, options, "encode")
    return _msinr.encode(np.asarray(image), o, model, progress).bytes


def decode(data: BytesLike, width: Optional[int] = None, height: Optional[int] = None,
           model: Optional[Model] = None, *, scale: Optional[float] = None, threads: int = 0) -> np.ndarray:
    """Decodes .msinr bytes to a numpy uint8 HxWx3 array.

    Native size by default; width or height alone keeps the aspect ratio; scale multiplies both.
    model must be the one the file was made with (ModelMismatchError otherwise).
    """
    return _msinr.decode(data, model, width or 0, height or 0, scale or 0.0, threads)


def info(data: BytesLike) -> dict[str, Any]:
    """What a .msinr file's header says, without a model: width, height, level, tile_size, steps,
    model_id, file_bytes, bpp, tiles, values_per_tile, payload ('quantized' or 'fp16')."""
    return _msinr.read_info(data)


def psnr(a: Any, b: Any) -> float:
    """PSNR in dB of b against a over 8-bit RGB (inf when identical)."""
    return _msinr.psnr(np.asarray(a), np.asarray(b))

