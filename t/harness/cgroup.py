"""A real cgroup v1 memory group for a test or a benchmark: made with a
limit, read, written, and removed with whatever still runs in it."""
import os
import re
import secrets
import signal
import sys
import time

CG_ROOT = "/sys/fs/cgroup/memory"


class MemCgroup:
    """A memory group ROOT/<prefix>-<random> limited to `limit` bytes.
    Raises OSError where it cannot be made or limited (nothing is left)."""

    def __init__(self, prefix, limit, root=CG_ROOT):
        self.path = os.path.join(root, "%s-%s" % (prefix,
                                                  secrets.token_hex(3)))
        os.mkdir(self.path)
        try:
            self.write("memory.limit_in_bytes", str(limit))
        except OSError:
            os.rmdir(self.path)
            raise
        self.limit = int(self.read("memory.limit_in_bytes"))

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value + "\n")

    def value(self, name):
        """A file's number, or None where it cannot be read."""
        try:
            return int(self.read(name))
        except (OSError, ValueError):
            return None

    def oom_kills(self):
        m = re.search(r"^oom_kill (\d+)$", self.read("memory.oom_control"),
                      re.M)
        return int(m.group(1)) if m else 0

    def pids(self):
        try:
            return [int(x) for x in self.read("cgroup.procs").split()]
        except OSError:
            return []

    def wrapper(self, name="mg-cgroup-wrapper"):
        """argv that moves itself into this group, then execs the rest
        (an Httpd's prefix)."""
        return ["sh", "-c", 'echo $$ > "%s/cgroup.procs" && exec "$@"'
                % self.path, name]

    def remove(self, timeout=15):
        """Kill what still runs in the group, then remove it."""
        if not os.path.isdir(self.path):
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)
        sys.stderr.write("could not remove the cgroup %s\n" % self.path)
