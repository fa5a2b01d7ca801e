# SPDX-License-Identifier: MIT
"""Tests of sandboxvm_calls (standard library only).

    SBVM_LIBRARY=build/libsandboxvm.so SBVM_CALLS=build/tests/calls \\
        python3 -m unittest discover -s python -v

SBVM_CALLS names the directory of the buggy fixture library; without it the
tests that need it are skipped, and say so.
"""

import os
import threading
import time
import unittest
import zlib

import sandboxvm_calls as sc

BUGGY = os.path.join(os.environ.get("SBVM_CALLS", ""), "libbuggy.so")
HAVE_BUGGY = bool(os.environ.get("SBVM_CALLS")) and os.path.exists(BUGGY)


class Zlib(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.z = sc.Library("libz.so.1")

    @classmethod
    def tearDownClass(cls):
        cls.z.close()

    def test_the_same_answers_as_pythons_zlib(self):
        data = b"sandbox worker crash report " * 5000 + bytes(range(256))
        self.assertEqual(self.z.call("crc32", 0, data, len(data), ret=sc.ULONG), zlib.crc32(data))
        self.assertEqual(self.z.call("zlibVersion", ret=sc.STR), zlib.ZLIB_RUNTIME_VERSION)
        comp = zlib.compress(data, 6)
        out, size = sc.Out(len(data)), sc.U64(len(data))
        self.assertEqual(self.z.call("uncompress", out, size, comp, len(comp)), 0)
        self.assertEqual(size.value, len(data))
        self.assertEqual(out.value, data)
        # compress2 gives the same bytes as this process's zlib.
        bound = self.z.call("compressBound", len(data), ret=sc.ULONG)
        cout, csize = sc.Out(bound), sc.U64(bound)
        self.assertEqual(self.z.call("compress2", cout, csize, data, len(data), 6), 0)
        self.assertEqual(cout.value[: csize.value], comp)

    def test_hostile_input_fails_as_it_would_here(self):
        good = zlib.compress(bytes(range(256)) * 400)
        for at in range(0, len(good), 7):
            comp = bytearray(good)
            comp[at] ^= 0x40
            out, size = sc.Out(102400), sc.U64(102400)
            r = self.z.call("uncompress", out, size, bytes(comp), len(comp))
            try:
                here = zlib.decompress(bytes(comp))
            except zlib.error:
                here = None
            # Fails where it fails here (an error code, never a crash), and
            # where it does not, gives the same bytes.
            self.assertEqual(r == 0, here is not None, "byte %d" % at)
            if here is not None:
                self.assertEqual(out.value[: size.value], here)
        bomb = zlib.compress(b"\0" * (64 << 20), 9)
        out, size = sc.Out(1 << 20), sc.U64(1 << 20)
        self.assertEqual(self.z.call("uncompress", out, size, bomb, len(bomb)), zlib.Z_BUF_ERROR
                         if hasattr(zlib, "Z_BUF_ERROR") else -5)

    def test_a_missing_function_and_bad_arguments_are_refused(self):
        self.assertFalse(self.z.has("no_such_function"))
        with self.assertRaises(AttributeError):
            self.z.call("no_such_function")
        with self.assertRaises(TypeError):
            self.z.call("crc32", 0, object(), 1)
        with self.assertRaises(sc.Refused):
            self.z.call("crc32", *range(17))


@unittest.skipUnless(HAVE_BUGGY, "SBVM_CALLS does not name the fixture libraries' directory")
class Buggy(unittest.TestCase):
    def setUp(self):
        self.lib = sc.Library(BUGGY, timeout=5)

    def tearDown(self):
        self.lib.close()

    def test_a_crash_raises_with_its_report_and_the_next_call_is_fresh(self):
        self.assertEqual(self.lib.call("buggy_count"), 1)
        self.assertEqual(self.lib.call("buggy_count"), 2)
        with self.assertRaises(sc.Crashed) as cm:
            self.lib.call("buggy_null")
        e = cm.exception
        self.assertEqual(e.outcome, "crashed")
        self.assertEqual(e.signal, 11)
        self.assertIn("SIGSEGV", str(e))
        self.assertIn("buggy_null", e.report)
        self.assertIn("backtrace", e.report)
        self.assertEqual(self.lib.call("buggy_count"), 1)
        self.assertEqual(self.lib.stats()["losses"], 1)

    def test_denied_timeout_and_lost(self):
        with self.assertRaises(sc.Denied) as cm:
            self.lib.call("buggy_exec")
        self.assertIn("execve", str(cm.exception))
        t0 = time.monotonic()
        with self.assertRaises(sc.Timeout):
            self.lib.call("buggy_spin", timeout=0.3)
        self.assertLess(time.monotonic() - t0, 10)
        with self.assertRaises(sc.Lost) as cm:
            self.lib.call("buggy_exit", 4)
        self.assertIn("exited with code 4", str(cm.exception))
        self.assertEqual(self.lib.call("buggy_add", 2, 3), 5)

    def test_values_of_every_kind(self):
        self.assertEqual(self.lib.call("buggy_neg"), -7)
        self.assertEqual(self.lib.call("buggy_neg_u", ret=sc.UINT), 0xFFFFFFFE)
        self.assertEqual(self.lib.call("buggy_fmul", sc.Float(1.5), sc.Float(-4), ret=sc.FLOAT),
                         -6.0)
        out = sc.Out(16)
        self.assertEqual(self.lib.call("buggy_upper", "shout", out, 16, ret=sc.ULONG), 5)
        self.assertEqual(out.value[:6], b"SHOUT\0")
        io = sc.InOut(b"abc")
        self.lib.call("buggy_reverse", io, 3, ret=sc.VOID)
        self.assertEqual(io.value, b"cba")
        self.assertEqual(self.lib.call("buggy_value", None), -1)

    def test_handles_and_worker_memory(self):
        t = self.lib.call("buggy_new", 17, ret=sc.PTR)
        self.assertIsInstance(t, sc.Handle)
        self.assertEqual(self.lib.call("buggy_value", t), 17)
        self.assertEqual(self.lib.read(t, 4, 5), b"thing")
        self.lib.call("buggy_free", sc.Frees(t), ret=sc.VOID)
        with self.assertRaises(sc.Refused):
            self.lib.call("buggy_value", t)
        m = self.lib.alloc(16)
        self.lib.write(m, 0, bytes(range(16)))
        self.assertEqual(self.lib.call("buggy_sum", m, 16, ret=sc.ULONG), sum(range(16)))
        with self.assertRaises(sc.Refused):
            self.lib.read(m, 10, 10)
        self.lib.free(m)
        with self.assertRaises(sc.Refused):
            self.lib.free(m)
        self.assertIsNone(self.lib.call("buggy_null_ptr", ret=sc.PTR))

    def test_calls_from_threads(self):
        errors = []

        def work(k):
            try:
                for i in range(50):
                    if self.lib.call("buggy_add", k, i) != k + i:
                        errors.append((k, i))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
