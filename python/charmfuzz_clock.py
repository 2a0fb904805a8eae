"""Virtual time for the charm's process: waits return at once, clocks see them.

Charms wait. They poll their workload until it answers (``time.sleep(3)`` in a loop,
tenacity's ``wait_fixed``, ``backoff``), and they compare times (a certificate's expiry, a
secret's, how long a restart took). Under Juju those waits are real; under a fuzzer that
plays thousands of hooks, a hook that sleeps nine seconds is nine seconds of nothing.

So the charm's process runs on a clock of the harness's. Each input starts it at a fixed
instant, and it moves only for reasons that are part of the story:

- ``time.sleep(s)`` returns at once and moves the clock ``s`` forward;
- every read of the clock moves it one tick (a millisecond), so a loop that spins on
  ``time.time() < deadline`` without sleeping still reaches its deadline, a thousand reads
  per virtual second;
- while the charm has a process of its own running (a ``subprocess`` it waits for), time is
  real: sleeps sleep, and reads move the clock by the real time since the last read. What
  the charm waits for then is a real program, which needs real time to finish.

Time so defined is a function of what the charm did, not of how fast the machine is, so an
input's story is the same on every replay. The harness carries the clock from one hook to
the next (a hook's last reading, then a second for the agent to dispatch the next one) and
moves it for Juju's own timers: ``update-status`` comes five minutes after the last one.

What reads this clock: ``time.time``/``time_ns``, ``monotonic``/``monotonic_ns``,
``perf_counter``/``perf_counter_ns``, ``clock_gettime`` of the real-time and monotonic
clocks, ``localtime``/``gmtime``/``ctime``/``asctime``/``strftime`` without a time, and
``datetime.datetime.now``/``utcnow``/``today`` and ``datetime.date.today``. What does not: waits the kernel times
(``socket`` and ``select`` timeouts, ``threading.Event.wait``, ``queue.Queue.get``,
``asyncio.sleep``), file times, and C code reading the clock itself (OpenSSL's certificate
checks). The hook's timeout is the harness's and real: a hook that really never ends is
still a hang.

The functions are installed in the worker before the charm's modules are imported (so
``from time import sleep`` binds them too) and do nothing there but call the real ones; a
hook's child switches them on with :func:`start`.
"""

import datetime as _datetime
import os
import struct
import time as _time

_REAL_TIME = _time.time
_REAL_TIME_NS = _time.time_ns
_REAL_MONOTONIC = _time.monotonic
_REAL_MONOTONIC_NS = _time.monotonic_ns
_REAL_PERF_COUNTER = _time.perf_counter
_REAL_PERF_COUNTER_NS = _time.perf_counter_ns
_REAL_SLEEP = _time.sleep
_REAL_CLOCK_GETTIME = _time.clock_gettime
_REAL_CLOCK_GETTIME_NS = _time.clock_gettime_ns
_REAL_LOCALTIME = _time.localtime
_REAL_GMTIME = _time.gmtime
_REAL_CTIME = _time.ctime
_REAL_ASCTIME = _time.asctime
_REAL_STRFTIME = _time.strftime

#: One read of the clock moves it this far.
TICK_NS = 1_000_000
#: What ``time.monotonic()`` reads when the input starts (the machine has been up an hour).
MONOTONIC_START_NS = 3_600 * 1_000_000_000

_MONOTONIC_CLOCKS = {
    getattr(_time, name)
    for name in ('CLOCK_MONOTONIC', 'CLOCK_MONOTONIC_RAW', 'CLOCK_BOOTTIME')
    if hasattr(_time, name)
}


class _Clock:
    """The one clock of a hook's process (threads share it)."""

    active = False
    #: Virtual wall-clock time, nanoseconds since the Unix epoch.
    now_ns = 0
    #: The wall-clock time at which the input started (monotonic time counts from it).
    start_ns = 0
    #: Where the harness reads the last time this process saw (8 bytes, shared).
    shared = None
    #: The real monotonic time of the last reading, for while time is real.
    last_real_ns = 0


def start(now_ns, start_ns, shared):
    """Switch virtual time on in this process, at ``now_ns``; report into ``shared``."""
    _Clock.now_ns = int(now_ns)
    _Clock.start_ns = int(start_ns)
    _Clock.shared = shared
    _Clock.last_real_ns = _REAL_MONOTONIC_NS()
    _Clock.active = True
    _publish()


def _publish():
    if _Clock.shared is not None:
        struct.pack_into('<q', _Clock.shared, 0, _Clock.now_ns)


def _has_own_processes():
    """Whether this process has a child (running, or exited and not yet waited for)."""
    try:
        # Nothing to report (None) still means a child is running; no child at all raises.
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return True
    except OSError:  # ChildProcessError: no child
        return False


def _advance(ns):
    real = _REAL_MONOTONIC_NS()
    if _has_own_processes():
        ns = max(ns, real - _Clock.last_real_ns)
    _Clock.last_real_ns = real
    _Clock.now_ns += ns
    _publish()
    return _Clock.now_ns


def _read_ns():
    return _advance(TICK_NS)


def _mono_ns():
    return _read_ns() - _Clock.start_ns + MONOTONIC_START_NS


# --- the time module ----------------------------------------------------------------------


def sleep(secs):
    if not _Clock.active:
        return _REAL_SLEEP(secs)
    if secs < 0:
        raise ValueError('sleep length must be non-negative')
    ns = int(secs * 1_000_000_000)
    if _has_own_processes():
        _REAL_SLEEP(secs)
    _advance(ns)


def time():
    return _read_ns() / 1e9 if _Clock.active else _REAL_TIME()


def time_ns():
    return _read_ns() if _Clock.active else _REAL_TIME_NS()


def monotonic():
    return _mono_ns() / 1e9 if _Clock.active else _REAL_MONOTONIC()


def monotonic_ns():
    return _mono_ns() if _Clock.active else _REAL_MONOTONIC_NS()


def perf_counter():
    return _mono_ns() / 1e9 if _Clock.active else _REAL_PERF_COUNTER()


def perf_counter_ns():
    return _mono_ns() if _Clock.active else _REAL_PERF_COUNTER_NS()


def clock_gettime_ns(clk_id):
    if _Clock.active:
        if clk_id == _time.CLOCK_REALTIME:
            return _read_ns()
        if clk_id in _MONOTONIC_CLOCKS:
            return _mono_ns()
    return _REAL_CLOCK_GETTIME_NS(clk_id)


def clock_gettime(clk_id):
    if _Clock.active and (clk_id == _time.CLOCK_REALTIME or clk_id in _MONOTONIC_CLOCKS):
        return clock_gettime_ns(clk_id) / 1e9
    return _REAL_CLOCK_GETTIME(clk_id)


def _now_or(secs):
    return time() if secs is None else secs


def localtime(secs=None):
    return _REAL_LOCALTIME(_now_or(secs))


def gmtime(secs=None):
    return _REAL_GMTIME(_now_or(secs))


def ctime(secs=None):
    return _REAL_CTIME(_now_or(secs))


def asctime(t=None):
    return _REAL_ASCTIME(localtime() if t is None else t)


def strftime(format, t=None):
    return _REAL_STRFTIME(format, localtime() if t is None else t)


# --- the datetime module ------------------------------------------------------------------
#
# ``datetime.datetime`` is a C type whose attributes cannot be set, and a stand-in class in
# its place would be a different object from the one every pickled datetime names. So the
# methods that read the clock are replaced in the type's own dictionary: every reference to
# the class, however early it was taken, sees them, and nothing else about it changes.


@classmethod
def _datetime_now(cls, tz=None):
    return cls.fromtimestamp(time(), tz)


@classmethod
def _datetime_utcnow(cls):
    return cls.fromtimestamp(time(), _datetime.timezone.utc).replace(tzinfo=None)


@classmethod
def _date_today(cls):
    return cls.fromtimestamp(time())


def _set_type_attribute(cls, name, value):
    import ctypes
    import gc

    (namespace,) = gc.get_referents(cls.__dict__)
    namespace[name] = value
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))


def install():
    """Put the stand-ins in the ``time`` and ``datetime`` modules (inert until ``start``)."""
    for name in ('sleep', 'time', 'time_ns', 'monotonic', 'monotonic_ns', 'perf_counter',
                 'perf_counter_ns', 'clock_gettime', 'clock_gettime_ns', 'localtime',
                 'gmtime', 'ctime', 'asctime', 'strftime'):
        setattr(_time, name, globals()[name])
    _set_type_attribute(_datetime.date, 'today', _date_today)
    _set_type_attribute(_datetime.datetime, 'today', _date_today)
    _set_type_attribute(_datetime.datetime, 'now', _datetime_now)
    _set_type_attribute(_datetime.datetime, 'utcnow', _datetime_utcnow)
