# A small Koji-like XML-RPC hub, run by mod_wsgi, Python standard library
# only. It exists to be protected: some calls build responses that grow
# without limit with their arguments, as the real hub's "list everything
# forever" calls do.
#
# Every request that reaches the application is appended to a call log
# (one line: pid, method), shared by all processes, so a test can prove
# that a refused call never reached the application. The log's path comes
# from the environment variable MEMGUARD_DEMO_CALLLOG (httpd: SetEnv);
# without it nothing is logged. Only the top-level method of a request is
# logged (a multicall is one line, its name).
#
# Offline, the way Koji's hub is when its ServerOffline option is set or
# its database is gone: while the file named by MEMGUARD_DEMO_OFFLINE
# exists, every call is answered with fault 1014 (koji.ServerOffline,
# "server is offline"), before any method runs.
#
# Methods:
#   getBuild(id)            one build record (cheap)
#   listBuilds(n)           n build records, no limit (expensive)
#   queryHistory(n)         n history rows, built in memory and marshalled
#                           at once, no limit (the bad night's call)
#   slowCall(seconds)       sleeps, then returns the seconds (max 60)
#   echo(x)                 returns x unchanged
#   getCallCount([method])  calls seen by the application so far
#   hello()                 "hello"
#   getNice()               the nice value of the thread running the call
#   fail(code, text)        raises a fault (a Koji GenericError is 1000)
#   host.openTask(id)       a builder takes a task: its data
#   host.closeTask(id, result), host.failTask(id, result),
#   host.freeTasks([ids]), host.refuseTask(id), host.setBuildRootState(id,
#   state), host.updateHost(load, ready)
#                           a builder reports; they return nothing (nil)
#   multiCall(calls), system.multicall(calls)
#                           Koji's multicall: each call runs through the
#                           same dispatch (so they nest); the result holds
#                           [value] for a call that returned, a struct
#                           with faultCode and faultString (and a
#                           traceback for an unexpected error) for one
#                           that failed, as Koji's hub answers
#   system.listMethods, system.methodHelp
import os
import time
import threading
import traceback
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCDispatcher

_STATES = ("BUILDING", "COMPLETE", "DELETED", "FAILED", "CANCELED")


def _calllog_path(environ):
    return environ.get("MEMGUARD_DEMO_CALLLOG") or os.environ.get(
        "MEMGUARD_DEMO_CALLLOG")


def _record(environ, method):
    path = _calllog_path(environ)
    if not path:
        return
    line = ("%d %s\n" % (os.getpid(), method)).encode("utf-8", "replace")
    # One write() with O_APPEND: lines from concurrent processes never mix.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _build(build_id):
    build_id = int(build_id)
    return {
        "id": build_id,
        "package_name": "pkg%d" % (build_id % 997),
        "version": "1.%d" % (build_id % 50),
        "release": "%d.fc41" % (build_id % 7 + 1),
        "nvr": "pkg%d-1.%d-%d.fc41" % (build_id % 997, build_id % 50,
                                        build_id % 7 + 1),
        "state": build_id % len(_STATES),
        "state_name": _STATES[build_id % len(_STATES)],
        "owner_name": "builder%d" % (build_id % 31),
        "task_id": 1000000 + build_id,
        "creation_time": "2026-11-%02d 03:%02d:00" % (build_id % 28 + 1,
                                                      build_id % 60),
        "volume_name": "DEFAULT",
    }


class Hub:
    def __init__(self, environ):
        self.environ = environ

    def getBuild(self, build_id):
        return _build(build_id)

    def listBuilds(self, n=10):
        return [_build(i) for i in range(int(n))]

    def queryHistory(self, n=10):
        rows = []
        for i in range(int(n)):
            row = _build(i)
            row.update({
                "event_id": 5000000 + i,
                "action": "tag" if i % 3 else "untag",
                "tag_name": "f41-updates-candidate",
                "creator_name": "bodhi",
                "revoke_event": None,
                "active": bool(i % 2),
                "comment": "history row %d of %d" % (i, int(n)),
            })
            rows.append(row)
        # Marshal here, inside the call, as the real hub's handler does:
        # the whole answer exists twice in memory at the peak.
        return xmlrpc.client.loads(
            xmlrpc.client.dumps((rows,), methodresponse=True,
                                allow_none=True), use_builtin_types=True
        )[0][0]

    def slowCall(self, seconds=1.0):
        seconds = min(float(seconds), 60.0)
        time.sleep(seconds)
        return seconds

    def echo(self, x):
        return x

    def getNice(self):
        """The nice value of the thread running this call (a diagnostic:
        shows MemGuardMethod nice= at work under embedded mod_wsgi)."""
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def hello(self):
        return "hello"

    def fail(self, code=1000, text="failed"):
        raise xmlrpc.client.Fault(int(code), str(text))

    def getCallCount(self, method=None):
        path = _calllog_path(self.environ)
        if not path or not os.path.exists(path):
            return 0
        with open(path, encoding="utf-8", errors="replace") as f:
            names = [line.split(" ", 1)[1].rstrip("\n") for line in f
                     if " " in line]
        if method is None:
            return len(names)
        return sum(1 for n in names if n == method)


class Host:
    """The builder's calls (host.*), registered one by one: dotted names
    are not resolved on an instance."""

    def openTask(self, task_id):
        return {"id": int(task_id), "method": "build", "arch": "noarch",
                "request": ["git+https://src.example/pkg#abc", "f41", {}]}

    def closeTask(self, task_id, response):
        return None

    def failTask(self, task_id, response):
        return None

    def freeTasks(self, tasks):
        return None

    def refuseTask(self, task_id, soft=True, msg=""):
        return None

    def setBuildRootState(self, brootid, state, task_id=None):
        return None

    def updateHost(self, task_load, ready, data=None):
        return None


def _multicall(dispatcher):
    """Koji's ModXMLRPCRequestHandler.multiCall, standard library only."""
    def multicall(calls):
        results = []
        for call in calls:
            try:
                result = dispatcher._dispatch(call["methodName"],
                                              call["params"])
            except xmlrpc.client.Fault as fault:
                results.append({"faultCode": fault.faultCode,
                                "faultString": fault.faultString})
            except Exception as e:
                results.append({
                    "faultCode": getattr(e, "faultCode", 1),
                    "faultString": ", ".join(str(a) for a in e.args),
                    "traceback": traceback.format_exception(type(e), e,
                                                            e.__traceback__),
                })
            else:
                results.append([result])
        return results
    return multicall


def _offline(environ):
    path = environ.get("MEMGUARD_DEMO_OFFLINE") or os.environ.get(
        "MEMGUARD_DEMO_OFFLINE")
    return bool(path) and os.path.exists(path)


def _method_name(body):
    try:
        return xmlrpc.client.loads(body)[1] or "?"
    except Exception:
        return "?"


def application(environ, start_response):
    if environ.get("REQUEST_METHOD") != "POST":
        body = b"demo XML-RPC hub: POST an XML-RPC call here\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    data = stream.read(int(length)) if length else stream.read()
    method = _method_name(data)
    _record(environ, method)
    if _offline(environ):
        # koji's offline_reply(): a fault in a 200 answer
        response = xmlrpc.client.dumps(
            xmlrpc.client.Fault(1014, "server is offline"),
            methodresponse=True).encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml"),
                                  ("Content-Length", str(len(response)))])
        return [response]
    dispatcher = SimpleXMLRPCDispatcher(allow_none=True, encoding="utf-8")
    dispatcher.register_instance(Hub(environ))
    host = Host()
    for name in ("openTask", "closeTask", "failTask", "freeTasks",
                 "refuseTask", "setBuildRootState", "updateHost"):
        dispatcher.register_function(getattr(host, name), "host." + name)
    multicall = _multicall(dispatcher)
    dispatcher.register_function(multicall, "multiCall")
    dispatcher.register_function(multicall, "system.multicall")
    dispatcher.register_introspection_functions()
    response = dispatcher._marshaled_dispatch(data)
    start_response("200 OK", [("Content-Type", "text/xml"),
                              ("Content-Length", str(len(response)))])
    return [response]
