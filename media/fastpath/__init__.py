"""The C data plane of the RTP relay (`rtpfast.c`): build, load, and the leg mirror.

`load()` returns the shared library, compiling it first with the system C compiler when
it is missing or older than its source (`make` builds it at set-up; this covers a
checkout where someone edited the C file). When there is no compiler or the platform is
not Linux it returns None and the relay runs on the Python path alone, which does the
same work more slowly.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("media.fastpath")

SOURCE = Path(__file__).resolve().with_name("rtpfast.c")
LIBRARY = SOURCE.with_name("_rtpfast.so")
CFLAGS = ("-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror")


def build(target: Path = LIBRARY) -> Path:
    """Compile `rtpfast.c` into `target` (atomically replaced); the path built."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler (apt-get install gcc libc6-dev)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        subprocess.run([compiler, *CFLAGS, "-o", str(partial), str(SOURCE)], check=True,
                       capture_output=True, text=True, timeout=120)
        os.replace(partial, target)
    except subprocess.CalledProcessError as exc:
        raise OSError(f"compiling {SOURCE.name} failed: {exc.stderr.strip()}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def _fresh(path: Path) -> bool:
    return path.exists() and path.stat().st_mtime >= SOURCE.stat().st_mtime


def _library_path() -> Path:
    if _fresh(LIBRARY):
        return LIBRARY
    try:
        return build(LIBRARY)
    except PermissionError:  # a read-only checkout: build into a per-source cache
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
        cached = Path(tempfile.gettempdir()) / f"rtpfast-{digest}.so"
        return cached if _fresh(cached) else build(cached)


@functools.cache
def load() -> ctypes.PyDLL | None:
    """The data plane library, or None (logged) when it cannot be had here."""
    if not sys.platform.startswith("linux"):
        return None
    from media.fastpath.leg import FpLeg

    try:
        # PyDLL keeps the GIL: the calls are short and the loop's thread is the only user.
        lib = ctypes.PyDLL(str(_library_path()))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("RTP data plane unavailable, relaying in Python only: %s", exc)
        return None
    lib.fp_struct_size.restype = ctypes.c_int
    lib.fp_struct_size.argtypes = []
    if lib.fp_struct_size() != ctypes.sizeof(FpLeg):
        log.warning("RTP data plane struct mismatch (%d != %d): Python path only",
                    lib.fp_struct_size(), ctypes.sizeof(FpLeg))
        return None
    lib.fp_create.restype = ctypes.c_int
    lib.fp_create.argtypes = []
    lib.fp_add.restype = ctypes.c_int
    lib.fp_add.argtypes = [ctypes.c_int, ctypes.POINTER(FpLeg)]
    lib.fp_remove.restype = ctypes.c_int
    lib.fp_remove.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.fp_close.restype = ctypes.c_int
    lib.fp_close.argtypes = [ctypes.c_int]
    lib.fp_poll.restype = ctypes.c_int
    lib.fp_poll.argtypes = [ctypes.c_int, ctypes.c_double, ctypes.c_void_p, ctypes.c_uint32,
                            ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_uint32)]
    return lib
