# SPDX-License-Identifier: MIT
"""sandboxvm_calls: call functions of an untrusted shared library in a sandbox.

A thin ctypes binding of sandboxvm's library-call API (sandboxvm/calls.h),
standard library only. The library is loaded by worker processes in a
sandbox; a call that crashes, is denied or runs out of time raises an
exception carrying the worker's report, and this process is never harmed::

    import sandboxvm_calls as sc

    with sc.Library("libz.so.1") as z:
        crc = z.call("crc32", 0, b"hello", 5, ret=sc.ULONG)
        out, size = sc.Out(1 << 20), sc.U64(1 << 20)
        z.call("uncompress", out, size, compressed, len(compressed))
        data = out.value[: size.value]

Arguments map by Python type: int -> an integer, float -> a double,
bytes/bytearray/memoryview -> a buffer the function reads, str -> a
NUL-terminated UTF-8 string it reads, None -> NULL, Handle -> a pointer of the
worker's. Wrappers say more: Float(x), Out(n), InOut(b), U64(n) / U32(n)
(an in-out integer behind a pointer), Frees(handle) (a handle the function
frees). `ret` says what comes back: INT (default), UINT, LONG, ULONG, DOUBLE,
FLOAT, VOID, PTR (a Handle, or None for NULL) or STR (a string read through
the returned pointer).

The shared library is found through SBVM_LIBRARY (a path), else
libsandboxvm.so.0 on the loader's path. docs/CALLS.md explains the model.
"""

import ctypes
import ctypes.util
import errno as _errno
import os

__all__ = [
    "Library", "Handle", "Float", "Out", "InOut", "U64", "U32", "Frees",
    "CallError", "Crashed", "Denied", "Timeout", "Lost", "Refused",
    "INT", "UINT", "LONG", "ULONG", "DOUBLE", "FLOAT", "VOID", "PTR", "STR",
]

# enum sbvm_type, and STR: a PTR read as a string.
VOID, INT, UINT, LONG, ULONG, DOUBLE, FLOAT, PTR = range(8)
STR = 100

# enum sbvm_arg_kind
_A_INT, _A_DOUBLE, _A_FLOAT, _A_IN, _A_OUT, _A_INOUT, _A_HANDLE, _A_FREES, _A_NULL = range(1, 10)

# enum sbvm_call_outcome
_OUTCOMES = ["returned", "crashed", "denied", "timeout", "cpu", "lost", "refused"]

_WAIT = {"default": 0, "sleep": 1}

_STR_MAX = 1 << 20


class _Arg(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("i", ctypes.c_int64),
        ("d", ctypes.c_double),
        ("buf", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("h", ctypes.c_uint64),
        ("offset", ctypes.c_uint64),
    ]


class _Value(ctypes.Union):
    _fields_ = [
        ("i", ctypes.c_int64),
        ("u", ctypes.c_uint64),
        ("d", ctypes.c_double),
        ("f", ctypes.c_float),
        ("h", ctypes.c_uint64),
    ]


class _Options(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("workers", ctypes.c_uint),
        ("spares", ctypes.c_uint),
        ("no_zygote", ctypes.c_int),
        ("timeout_ms", ctypes.c_uint64),
        ("cpu_ms", ctypes.c_uint64),
        ("buffer_bytes", ctypes.c_uint64),
        ("wait", ctypes.c_int),
        ("spin_ns", ctypes.c_uint64),
        ("yields", ctypes.c_uint),
    ]


class _Info(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("timeout_ms", ctypes.c_uint64),
        ("cpu_ms", ctypes.c_uint64),
        ("outcome", ctypes.c_int),
        ("worker", ctypes.c_uint64),
        ("worker_calls", ctypes.c_uint64),
        ("losses", ctypes.c_uint64),
        ("result", ctypes.c_void_p),
    ]


class _Stats(ctypes.Structure):
    _fields_ = [
        ("calls", ctypes.c_uint64),
        ("losses", ctypes.c_uint64),
        ("started", ctypes.c_uint64),
        ("live", ctypes.c_uint),
        ("idle", ctypes.c_uint),
        ("busy", ctypes.c_uint),
        ("zygote", ctypes.c_int),
    ]


def _load():
    path = os.environ.get("SBVM_LIBRARY") or ctypes.util.find_library("sandboxvm")
    lib = ctypes.CDLL(path or "libsandboxvm.so.0")
    P, U64, I, S = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_size_t
    PP = ctypes.POINTER(ctypes.c_void_p)
    sig = {
        "sbvm_lib_open": (I, [ctypes.c_char_p, P, P, PP, PP]),
        "sbvm_lib_close": (None, [P]),
        "sbvm_lib_sym": (I, [P, ctypes.c_char_p, PP, PP]),
        "sbvm_lib_reset": (I, [P, PP]),
        "sbvm_lib_call": (I, [P, P, I, P, S, P, P, PP]),
        "sbvm_lib_alloc": (I, [P, S, U64, ctypes.POINTER(U64), PP]),
        "sbvm_lib_free": (I, [P, U64, PP]),
        "sbvm_lib_forget": (I, [P, U64, PP]),
        "sbvm_lib_read": (I, [P, U64, U64, P, S, PP]),
        "sbvm_lib_write": (I, [P, U64, U64, P, S, PP]),
        "sbvm_lib_poke": (I, [P, U64, U64, U64, U64, PP]),
        "sbvm_lib_stats": (None, [P, P]),
        "sbvm_error_message": (ctypes.c_char_p, [P]),
        "sbvm_error_code": (I, [P]),
        "sbvm_error_free": (None, [P]),
        "sbvm_result_free": (None, [P]),
        "sbvm_result_signal": (I, [P]),
        "sbvm_result_details": (P, [P, ctypes.c_char_p]),
        "sbvm_result_message": (ctypes.c_char_p, [P]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib


_lib = None
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]


def _c():
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def _take_error(err):
    """The message and errno of an sbvm_error, which is freed."""
    if not err:
        return "unknown error", _errno.EIO
    c = _c()
    msg = c.sbvm_error_message(err).decode("utf-8", "replace")
    code = c.sbvm_error_code(err)
    c.sbvm_error_free(err)
    return msg, code


class CallError(Exception):
    """A call that did not return. `outcome` is one of "crashed", "denied",
    "timeout", "cpu", "lost", "refused"; `report` is the worker's report in
    words (its crash with registers and backtrace, the denied call), or "";
    `signal` the signal it died of, or 0."""

    def __init__(self, message, errno_, outcome, report="", signal=0):
        super().__init__(message)
        self.errno = errno_
        self.outcome = outcome
        self.report = report
        self.signal = signal


class Crashed(CallError):
    pass


class Denied(CallError):
    pass


class Timeout(CallError):
    pass


class Lost(CallError):
    pass


class Refused(CallError):
    pass


_CLASSES = {"crashed": Crashed, "denied": Denied, "timeout": Timeout, "cpu": Timeout,
            "lost": Lost, "refused": Refused}


class Handle(int):
    """A pointer of a worker's: opaque, valid only with its library."""

    def __repr__(self):
        return "Handle(0x%x)" % int(self)


class Float:
    """A float argument (32 bits), where a Python float is a double."""

    def __init__(self, value):
        self.value = float(value)


class Out:
    """A buffer of n bytes the function writes; .value after the call."""

    def __init__(self, n):
        self._buf = ctypes.create_string_buffer(n) if n else None
        self.n = n

    @property
    def value(self):
        return self._buf.raw if self._buf else b""


class InOut(Out):
    """Bytes the function reads and may change; .value after the call."""

    def __init__(self, data):
        data = bytes(data)
        super().__init__(len(data))
        if data:
            ctypes.memmove(self._buf, data, len(data))


class U64:
    """An unsigned 64-bit integer behind a pointer (size_t *, uLongf *) that
    the function may change; .value after the call."""

    _ctype = ctypes.c_uint64

    def __init__(self, value=0):
        self._cell = self._ctype(value)

    @property
    def value(self):
        return self._cell.value


class U32(U64):
    """The same, 32 bits (unsigned int *)."""

    _ctype = ctypes.c_uint32


class Frees:
    """A handle the function frees: forgotten when the call ends."""

    def __init__(self, handle):
        self.handle = int(handle)


class Library:
    """A library opened in a sandbox of its own. Thread-safe: calls from
    several threads run on workers of their own (up to `workers`).

    workers, spares: the pool; zygote: fork workers from one that loaded the
    library (default) or exec each; timeout, cpu: each call's budgets in
    seconds; buffer_bytes: the most one call's buffers hold; wait: "default"
    (spin, then sleep) or "sleep"."""

    def __init__(self, path, workers=0, spares=0, zygote=True, timeout=0, cpu=0,
                 buffer_bytes=0, wait="default"):
        c = _c()
        o = _Options(size=ctypes.sizeof(_Options), workers=workers, spares=spares,
                     no_zygote=0 if zygote else 1, timeout_ms=int(timeout * 1000),
                     cpu_ms=int(cpu * 1000), buffer_bytes=buffer_bytes, wait=_WAIT[wait])
        self._lib = ctypes.c_void_p()
        self._fns = {}
        err = ctypes.c_void_p()
        r = c.sbvm_lib_open(os.fsencode(path), None, ctypes.byref(o), ctypes.byref(self._lib),
                            ctypes.byref(err))
        if r < 0:
            msg, code = _take_error(err)
            raise OSError(code, msg)

    def close(self):
        if self._lib:
            _c().sbvm_lib_close(self._lib)
            self._lib = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _check(self):
        if not self._lib:
            raise ValueError("the library is closed")

    def _fn(self, name):
        fn = self._fns.get(name)
        if fn is None:
            fn, err = ctypes.c_void_p(), ctypes.c_void_p()
            if _c().sbvm_lib_sym(self._lib, name.encode(), ctypes.byref(fn), ctypes.byref(err)) < 0:
                msg, code = _take_error(err)
                raise AttributeError(msg)
            self._fns[name] = fn
        return fn

    def has(self, name):
        """Whether the library has a symbol `name`."""
        self._check()
        try:
            self._fn(name)
            return True
        except AttributeError:
            return False

    def _raise(self, r, err, info):
        c = _c()
        msg, code = _take_error(err)
        outcome = _OUTCOMES[info.outcome] if 0 <= info.outcome < len(_OUTCOMES) else "lost"
        report, signal = "", 0
        if info.result:
            d = c.sbvm_result_details(info.result, b"  ")
            if d:
                report = ctypes.string_at(d).decode("utf-8", "replace")
                _libc.free(d)
            signal = c.sbvm_result_signal(info.result)
            c.sbvm_result_free(info.result)
        raise _CLASSES.get(outcome, CallError)(msg, code or -r, outcome, report, signal)

    def call(self, name, *args, ret=INT, timeout=0, cpu=0):
        """Calls function `name` with `args` and returns what it returned, as
        `ret` says. Raises Crashed, Denied, Timeout, Lost or Refused (all
        CallError) when it did not return."""
        self._check()
        fn = self._fn(name)
        n = len(args)
        cargs = (_Arg * max(n, 1))()
        keep = []
        for i, a in enumerate(args):
            ca = cargs[i]
            if isinstance(a, Handle):
                ca.kind, ca.h = _A_HANDLE, int(a)
            elif isinstance(a, Frees):
                ca.kind, ca.h = _A_FREES, a.handle
            elif isinstance(a, bool) or isinstance(a, int):
                ca.kind, ca.i = _A_INT, int(a) if a < (1 << 63) else int(a) - (1 << 64)
            elif isinstance(a, float):
                ca.kind, ca.d = _A_DOUBLE, a
            elif isinstance(a, Float):
                ca.kind, ca.d = _A_FLOAT, a.value
            elif a is None:
                ca.kind = _A_NULL
            elif isinstance(a, str):
                b = ctypes.create_string_buffer(a.encode("utf-8"))
                keep.append(b)
                ca.kind, ca.buf, ca.len = _A_IN, ctypes.addressof(b), ctypes.sizeof(b)
            elif isinstance(a, (bytes, bytearray, memoryview)):
                data = bytes(a)
                b = ctypes.create_string_buffer(data, len(data)) if data else None
                keep.append(b)
                ca.kind, ca.buf, ca.len = _A_IN, ctypes.addressof(b) if b else None, len(data)
            elif isinstance(a, (Out, InOut)):
                ca.kind = _A_INOUT if isinstance(a, InOut) else _A_OUT
                ca.buf = ctypes.addressof(a._buf) if a._buf else None
                ca.len = a.n
            elif isinstance(a, U64):
                ca.kind, ca.buf, ca.len = _A_INOUT, ctypes.addressof(a._cell), ctypes.sizeof(a._cell)
            else:
                raise TypeError("argument %d: cannot pass a %s" % (i + 1, type(a).__name__))
        c = _c()
        value, info, err = _Value(), _Info(size=ctypes.sizeof(_Info)), ctypes.c_void_p()
        info.timeout_ms, info.cpu_ms = int(timeout * 1000), int(cpu * 1000)
        ctype = PTR if ret == STR else ret
        r = c.sbvm_lib_call(self._lib, fn, ctype, cargs, n, ctypes.byref(value),
                            ctypes.byref(info), ctypes.byref(err))
        if r < 0:
            self._raise(r, err, info)
        if ret == STR:
            return self._string(value.h)
        return {VOID: None, INT: value.i, LONG: value.i, UINT: value.u, ULONG: value.u,
                DOUBLE: value.d, FLOAT: value.f,
                PTR: Handle(value.h) if value.h else None}[ret]

    def _string(self, h):
        if not h:
            return None
        n = min(self.call("strlen", Handle(h), ret=ULONG), _STR_MAX)
        return self.read(Handle(h), 0, n).decode("utf-8", "replace")

    def _mem(self, f, *args):
        self._check()
        err = ctypes.c_void_p()
        r = f(self._lib, *args, ctypes.byref(err))
        if r < 0:
            msg, code = _take_error(err)
            cls = Crashed if code == _errno.EFAULT else Refused if code in (
                _errno.EBADF, _errno.ESTALE, _errno.EXDEV, _errno.ERANGE, _errno.EINVAL,
                _errno.E2BIG) else CallError
            raise cls(msg, code, "crashed" if cls is Crashed else "refused")
        return r

    def alloc(self, size, near=None):
        """`size` zeroed bytes in a worker (near's, if given) that stay there
        between calls: a Handle."""
        h = ctypes.c_uint64()
        self._mem(_c().sbvm_lib_alloc, size, int(near or 0), ctypes.byref(h))
        return Handle(h.value)

    def free(self, handle):
        self._mem(_c().sbvm_lib_free, int(handle))

    def forget(self, handle):
        self._mem(_c().sbvm_lib_forget, int(handle))

    def read(self, handle, offset, size):
        buf = ctypes.create_string_buffer(size) if size else None
        self._mem(_c().sbvm_lib_read, int(handle), offset,
                  ctypes.addressof(buf) if buf else None, size)
        return buf.raw if buf else b""

    def write(self, handle, offset, data):
        data = bytes(data)
        buf = ctypes.create_string_buffer(data, len(data)) if data else None
        self._mem(_c().sbvm_lib_write, int(handle), offset,
                  ctypes.addressof(buf) if buf else None, len(data))

    def poke(self, handle, offset, target, target_offset=0):
        """Stores the address of `target` (+ target_offset; None: NULL) at
        `offset` of handle's memory."""
        self._mem(_c().sbvm_lib_poke, int(handle), offset, int(target or 0), target_offset)

    def reset(self):
        """Ends every worker and starts fresh ones: a clean library state."""
        self._check()
        err = ctypes.c_void_p()
        if _c().sbvm_lib_reset(self._lib, ctypes.byref(err)) < 0:
            msg, code = _take_error(err)
            raise OSError(code, msg)

    def stats(self):
        self._check()
        st = _Stats()
        _c().sbvm_lib_stats(self._lib, ctypes.byref(st))
        return {f: getattr(st, f) for f, _ in _Stats._fields_}
