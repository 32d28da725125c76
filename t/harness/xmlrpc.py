"""Raw XML-RPC for the tests: a call's body, a POST of any body (whole or
chunked) on a connection of its own, the fault in an answer, and a call
run in a thread while the test goes on."""
import http.client
import threading
import xmlrpc.client

import pytest


def call_body(method, *params):
    return xmlrpc.client.dumps(params, methodname=method,
                               allow_none=True).encode()


def padded_call(size):
    """An XML-RPC echo call whose body is exactly `size` bytes."""
    pad = size - len(call_body("echo", ""))
    assert pad >= 0
    body = call_body("echo", "x" * pad)
    assert len(body) == size
    return body


def post(h, path, body, headers=None, chunked=False, chunk=4096):
    """POST body to h (text/xml unless headers say otherwise), chunked in
    pieces of `chunk` bytes if asked: (response, body)."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    hdrs = {"Content-Type": "text/xml"}
    hdrs.update(headers or {})
    if chunked:
        c.request("POST", path, headers=hdrs, encode_chunked=True,
                  body=(body[i:i + chunk]
                        for i in range(0, len(body), chunk)))
    else:
        c.request("POST", path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def read_answer(s):
    """Read from socket s until the end of an XML-RPC answer (or the end
    of the stream): all that came, headers included."""
    data = b""
    while b"</methodResponse>" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def fault_of(data):
    """(faultCode, faultString) of an answer that must be a fault."""
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(data)
    return e.value.faultCode, e.value.faultString


def in_thread(fn, *args):
    """Run fn(*args) in a daemon thread: a dict that gets "value" (or
    "error") when it returns, and "thread" at once."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except Exception as e:  # noqa: BLE001 - reported by the test
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    box["thread"] = t
    return box
