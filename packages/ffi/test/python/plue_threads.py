# Python threads over plue through ctypes (run by Python.test.ts; the documented example is
# plue_ctypes.py): a blocking call releases the GIL, several Python threads call at once and each
# reads its own last error, and an exception raised in the event callback stops nothing.
import ctypes, json, os, sys, threading, time
from ctypes import CFUNCTYPE, c_char_p, c_int, c_void_p

lib = ctypes.CDLL(os.environ["PLUE_LIBRARY"])
EventCallback = CFUNCTYPE(None, c_char_p, c_void_p)
for name, restype, argtypes in [
    ("plue_init", c_int, [c_void_p]),
    ("plue_shutdown", c_int, []),
    ("plue_session_create", c_void_p, [c_char_p]),
    ("plue_session_open", c_void_p, [c_char_p]),
    ("plue_session_get_info", c_void_p, [c_void_p]),
    ("plue_session_update_title", c_int, [c_void_p, c_char_p]),
    ("plue_session_destroy", None, [c_void_p]),
    ("plue_free_json", None, [c_void_p]),
    ("plue_get_last_error_code", c_int, []),
    ("plue_get_last_error", c_char_p, []),
    ("plue_event_subscribe", c_int, [EventCallback, c_void_p]),
    ("plue_event_unsubscribe", c_int, [c_int]),
]:
    getattr(lib, name).restype = restype
    getattr(lib, name).argtypes = argtypes

failures = []


def fail(what):  # printed at the end, by the main thread (threads' prints could interleave)
    failures.append(what)


# 1. plue_init blocks while the sidecar starts (a Node process: hundreds of ms at least). A Python
# thread that only needs the GIL keeps running meanwhile, unless the call held the GIL.
ticks, initialising = [0], [True]


def ticker():
    while initialising[0]:
        ticks[0] += 1
        time.sleep(0.001)


thread = threading.Thread(target=ticker)
thread.start()
started = time.monotonic()
code = lib.plue_init(None)
took = time.monotonic() - started
initialising[0] = False
thread.join()
if code != 0:
    sys.exit(f"plue_init failed: {lib.plue_get_last_error().decode()}")
print(f"plue_init took {took:.2f} s; the ticker ran {ticks[0]} times meanwhile", flush=True)
if ticks[0] < 10:
    fail("the ticker did not run during plue_init: the call held the GIL")

# 2. A callback that raises on its first call: ctypes prints the exception and drops it; plue
# goes on calling the callback.
calls, titles, seen = [0], set(), threading.Event()


@EventCallback
def on_event(event_json, userdata):
    calls[0] += 1
    if calls[0] == 1:
        raise ValueError("raised in the callback on purpose")
    session = json.loads(event_json).get("session") or {}
    titles.add(session.get("title"))
    if "after the exception" in titles:
        seen.set()


subscription = lib.plue_event_subscribe(on_event, None)

# 3. Threads at once: each creates, renames, reads back, fails on purpose (its own made-up id)
# and must find its own error, then destroys.
def worker(n):
    for i in range(5):
        session = lib.plue_session_create(None)
        if not session:
            return fail(f"thread {n}: create: {lib.plue_get_last_error().decode()}")
        title = f"thread {n} call {i}"
        if lib.plue_session_update_title(session, title.encode()) != 0:
            fail(f"thread {n}: title: {lib.plue_get_last_error().decode()}")
        info = lib.plue_session_get_info(session)
        if not info or json.loads(ctypes.string_at(info))["title"] != title:
            fail(f"thread {n}: get_info after the title")
        lib.plue_free_json(info)
        missing = f"ses_thread{n}call{i}notthere"
        if lib.plue_session_open(missing.encode()) is not None:
            fail(f"thread {n}: opened {missing}")
        code, message = lib.plue_get_last_error_code(), lib.plue_get_last_error().decode()
        if code != 3 or missing not in message:
            fail(f"thread {n}: last error {code} {message!r} is not its own")
        lib.plue_session_destroy(session)


threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()

session = lib.plue_session_create(None)
lib.plue_session_update_title(session, b"after the exception")
if not seen.wait(60):
    fail(f"no event after the exception ({calls[0]} callback calls)")
print(f"callback calls: {calls[0]}", flush=True)
lib.plue_session_destroy(session)
lib.plue_event_unsubscribe(subscription)
if lib.plue_shutdown() != 0:
    fail("plue_shutdown")
for what in failures:
    print(f"FAIL {what}")
print(f"done: {len(failures)} failure(s)", flush=True)
sys.exit(1 if failures else 0)
