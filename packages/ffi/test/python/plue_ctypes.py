# plue from Python through ctypes: plue.h built as a shared library, in its sidecar mode.
import ctypes, json, os, threading
from ctypes import CFUNCTYPE, c_char_p, c_int, c_void_p

lib = ctypes.CDLL(os.environ.get("PLUE_LIBRARY", "./libplue.so"))

# Declare every function used: ctypes takes an undeclared result for an int, which cuts a 64-bit
# pointer. A char * the caller frees is a c_void_p (a c_char_p result would be copied and its
# pointer lost); so is a plue_session_t handle.
EventCallback = CFUNCTYPE(None, c_char_p, c_void_p)
for name, restype, argtypes in [
    ("plue_init", c_int, [c_void_p]),
    ("plue_shutdown", c_int, []),
    ("plue_session_create", c_void_p, [c_char_p]),
    ("plue_session_open", c_void_p, [c_char_p]),
    ("plue_session_get_info", c_void_p, [c_void_p]),
    ("plue_session_list", c_void_p, []),
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


def last_error():
    """The calling thread's last plue error: (code, message)."""
    return lib.plue_get_last_error_code(), lib.plue_get_last_error().decode()


def take_json(pointer):
    """Parses a char * result and frees it with plue_free_json; NULL means the call failed."""
    if not pointer:
        raise RuntimeError("plue error %d: %s" % last_error())
    try:
        return json.loads(ctypes.string_at(pointer))
    finally:
        lib.plue_free_json(pointer)


def children():
    """This process's child processes (Linux): the sidecar, while plue is initialised."""
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            found += [int(pid) for pid in f.read().split()]
    return found


session_id = None
events = []  # (kind, title, thread) of the session's events
renamed = threading.Event()


# Runs on plue's dispatcher thread (a C thread: ctypes takes the GIL for it). The module keeps
# a reference to this CFUNCTYPE object for as long as it is subscribed.
@EventCallback
def on_event(event_json, userdata):
    event = json.loads(event_json)
    session = event.get("session") or {}
    if session_id is not None and session.get("id") == session_id:
        events.append((event["_tag"], session.get("title"), threading.current_thread().name))
        if session.get("title") == "From Python":
            renamed.set()


if lib.plue_init(None) != 0:  # the sidecar: PLUE_COMMAND or plue on PATH; OPENCODE_URL...
    raise SystemExit("plue_init failed: %d %s" % last_error())
print(f"sidecar: {children()}")
subscription = lib.plue_event_subscribe(on_event, None)

session = lib.plue_session_create(None)
if not session:
    raise SystemExit("plue_session_create failed: %d %s" % last_error())
info = take_json(lib.plue_session_get_info(session))
session_id = info["id"]
print(f"created: {session_id} title={info['title']!r}")

if lib.plue_session_update_title(session, "From Python".encode()) != 0:
    raise SystemExit("plue_session_update_title failed: %d %s" % last_error())
print(f"title: {take_json(lib.plue_session_get_info(session))['title']!r}")
listed = take_json(lib.plue_session_list())
print(f"listed: {session_id in [s['id'] for s in listed]} of {len(listed)}")
print(f"event received: {renamed.wait(60)}")
for kind, title, thread in list(events):
    print(f"event: {kind} title={title!r} on {thread}")

# Failures: a NULL or non-zero result, then the last error of the calling thread.
missing = lib.plue_session_open(b"ses_0000000000000notthere")
print("bad id: result=%s code=%d message=%s" % (missing, *last_error()))
print("None title: result=%d code=%d message=%s" % (lib.plue_session_update_title(session, None), *last_error()))

lib.plue_event_unsubscribe(subscription)
lib.plue_session_destroy(session)
print(f"destroyed: code={lib.plue_get_last_error_code()}")
print(f"after destroy: result={lib.plue_session_get_info(session)} code={lib.plue_get_last_error_code()}")
print(f"shutdown: {lib.plue_shutdown()}")
print(f"children after shutdown: {children()}")
