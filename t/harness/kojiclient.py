"""A client that retries the way Koji's ClientSession does (koji/__init__.py
of Koji 1.35: _callMethod, _sendCall, convertFault, multiCall), so that
tests can show what memguard's answers make a Koji client do. Standard
library only: it talks XML-RPC with xmlrpc.client over one keep-alive
http.client connection, as ClientSession does over a requests session.

What it copies from ClientSession:
- a fault is never retried, except 1014 (ServerOffline) with
  offline_retry: sleep offline_retry_interval, reset the try count, call
  again, forever (kojid and kojira: offline_retry True, every 120 s; the
  CLI and the library's default: False, the ServerOffline is raised);
- any other error (an HTTP status other than 200, a dropped connection) is
  retried only by a logged-in session or with anon_retry, up to
  max_retries, the first retry at once and then every retry_interval;
  every HTTP error alike, 403 included; Retry-After is never read;
- _sendCall: a connection error is retried once at once on a new
  connection, before any of the above.

What it adds for tests: `max_offline_retries` (None: forever, as Koji)
bounds the offline loop, and `wire` records every answer it got, in order:
("ok",), ("fault", code, text), ("http", status, Retry-After or None) or
("conn", exception name); `sleeps` the pauses it made.
"""
import http.client
import time
import xmlrpc.client

CONN_ERRORS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
               ConnectionRefusedError, http.client.RemoteDisconnected,
               http.client.IncompleteRead)


class GenericError(Exception):
    faultCode = 1000

    def __init__(self, text=""):
        super().__init__(text)
        self.faultString = text


class ServerOffline(GenericError):
    faultCode = 1014


class HTTPError(Exception):
    """What requests' raise_for_status() raises."""

    def __init__(self, status, retry_after):
        super().__init__("%d error" % status)
        self.status = status
        self.retry_after = retry_after


def convertFault(fault):
    """Koji's convertFault: a known code becomes its exception, anything
    else stays a Fault."""
    for cls in (ServerOffline, GenericError):
        if fault.faultCode == cls.faultCode:
            return cls(fault.faultString)
    return fault


def encode_args(*args, **opts):
    """Koji's encode_args: keyword arguments travel as a trailing struct."""
    if opts:
        opts["__starstar"] = True
        args = args + (opts,)
    return args


class _Method:
    def __init__(self, session, name):
        self._session = session
        self._name = name

    def __getattr__(self, name):
        return _Method(self._session, "%s.%s" % (self._name, name))

    def __call__(self, *args, **kwargs):
        return self._session._callMethod(self._name, args, kwargs)


class ClientSession:
    def __init__(self, host, port, path="/kojihub", logged_in=False,
                 anon_retry=False, max_retries=30, retry_interval=20,
                 offline_retry=False, offline_retry_interval=20,
                 max_offline_retries=None, timeout=60):
        # not .host: session.host.closeTask() is a call
        self._addr = (host, port, path)
        self.logged_in = logged_in
        self.opts = {"anon_retry": anon_retry, "max_retries": max_retries,
                     "retry_interval": retry_interval,
                     "offline_retry": offline_retry,
                     "offline_retry_interval": offline_retry_interval}
        self.max_offline_retries = max_offline_retries
        self.timeout = timeout
        self.conn = None
        self.wire = []
        self.sleeps = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Method(self, name)

    def new_session(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def _sleep(self, secs):
        self.sleeps.append(secs)
        time.sleep(secs)

    def _sendOneCall(self, request):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self._addr[0], self._addr[1], timeout=self.timeout)
        try:
            self.conn.request("POST", self._addr[2], body=request, headers={
                "User-Agent": "koji/1", "Content-Type": "text/xml"})
            r = self.conn.getresponse()
            data = r.read()
        except CONN_ERRORS as e:
            self.wire.append(("conn", type(e).__name__))
            raise
        if r.will_close:
            self.new_session()
        if r.status != 200:
            self.wire.append(("http", r.status, r.getheader("Retry-After")))
            raise HTTPError(r.status, r.getheader("Retry-After"))
        try:
            result = xmlrpc.client.loads(data)[0]
        except xmlrpc.client.Fault as f:
            self.wire.append(("fault", f.faultCode, f.faultString))
            raise
        self.wire.append(("ok",))
        return result[0] if len(result) == 1 else result

    def _sendCall(self, request):
        # handle expired connections: one more try, on a new connection
        for i in (0, 1):
            try:
                return self._sendOneCall(request)
            except CONN_ERRORS:
                if i:
                    raise
                self.new_session()

    def _callMethod(self, name, args, kwargs=None):
        request = xmlrpc.client.dumps(encode_args(*args, **(kwargs or {})),
                                      name, allow_none=1).encode("utf-8")
        tries = 0
        offline = 0
        max_retries = self.opts["max_retries"]
        interval = self.opts["retry_interval"]
        while True:
            tries += 1
            err = None
            try:
                return self._sendCall(request)
            except xmlrpc.client.Fault as fault:
                err = convertFault(fault)
                if isinstance(err, ServerOffline) and \
                        self.opts["offline_retry"]:
                    offline += 1
                    if self.max_offline_retries is None or \
                            offline <= self.max_offline_retries:
                        self._sleep(self.opts["offline_retry_interval"])
                        tries = 0
                        continue
            except (SystemExit, KeyboardInterrupt):
                raise
            except Exception:
                self.new_session()
                if not self.logged_in and not self.opts["anon_retry"]:
                    raise
                if tries > max_retries:
                    raise
            if err:
                raise err
            if tries > 1:
                # first retry is immediate, after that retry_interval
                self._sleep(interval)

    def multiCall(self, calls):
        """calls: [(method, args)], sent as Koji's ClientSession.multiCall
        sends them; returns the hub's list ([value] or a fault struct per
        call)."""
        return self._callMethod("multiCall", ([
            {"methodName": m, "params": encode_args(*a)} for m, a in calls],),
            {})
