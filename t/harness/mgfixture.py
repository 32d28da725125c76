"""Fake memory pressure for the integration tests: a copy of a captured
/proc + /sys tree (t/unit/fixtures/proc/<name>) that a test points
MemGuardProcRoot at and rewrites while httpd runs.

Files are replaced atomically (write a temporary file, then rename it over
the old one), which the sampler's readers handle for any root other than
"/" (they re-open every file on every read). The tree is world-readable:
the sampler reads it after dropping to httpd's User.

    root = ProcRoot("debian12-v1")
    root.set_meminfo(MemAvailable=200 * 1024)          # kB, as the file says
    root.set_slab_cache("nfs_inode_cache", 3 << 30)     # bytes
    root.set_psi(some_avg10=35.0)
    root.set_node(0, MemFree=100 * 1024)
"""
import os
import re
import shutil
import tempfile

from t.harness import TOP

FIXTURES = os.path.join(TOP, "t", "unit", "fixtures", "proc")


class ProcRoot:
    def __init__(self, name="debian12-v1"):
        self.path = tempfile.mkdtemp(prefix="mg-procroot-")
        shutil.copytree(os.path.join(FIXTURES, name), self.path,
                        dirs_exist_ok=True)
        for d, dirs, files in os.walk(self.path):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)

    # -- raw access -------------------------------------------------------
    def file(self, rel):
        return os.path.join(self.path, rel)

    def read(self, rel):
        with open(self.file(rel)) as f:
            return f.read()

    def write(self, rel, text):
        """Replace rel atomically; text must end with a newline."""
        if not text.endswith("\n"):
            text += "\n"
        path = self.file(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".new-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)

    def remove(self, rel):
        try:
            os.unlink(self.file(rel))
        except FileNotFoundError:
            pass

    # -- /proc/meminfo ------------------------------------------------------
    def meminfo(self):
        """{key: kB} of proc/meminfo."""
        out = {}
        for line in self.read("proc/meminfo").splitlines():
            m = re.match(r"^([^:]+):\s+(\d+)", line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def set_meminfo(self, **kb):
        """Set meminfo fields (values in kB, keys as in the file; use
        SReclaimable=..., and "Active(file)" via a dict: **{"Active(file)": n}).
        Keeps the file's layout; Slab follows SReclaimable + SUnreclaim."""
        lines = self.read("proc/meminfo").splitlines()
        cur = self.meminfo()
        cur.update(kb)
        if "SReclaimable" in kb or "SUnreclaim" in kb:
            cur["Slab"] = cur.get("SReclaimable", 0) + cur.get("SUnreclaim", 0)
        out = []
        for line in lines:
            m = re.match(r"^([^:]+):(\s+)(\d+)(.*)$", line)
            if m and m.group(1) in cur:
                width = len(m.group(2)) + len(m.group(3))
                val = str(cur[m.group(1)])
                out.append("%s:%s%s" % (m.group(1), val.rjust(width),
                                        m.group(4)))
            else:
                out.append(line)
        self.write("proc/meminfo", "\n".join(out) + "\n")

    def mem_total_kb(self):
        return self.meminfo()["MemTotal"]

    # -- /proc/slabinfo -------------------------------------------------------
    def set_slab_cache(self, name, nbytes):
        """Make cache `name` hold about nbytes (num_objs * objsize); adds
        the cache if the capture did not have it."""
        lines = self.read("proc/slabinfo").splitlines()
        found = False
        out = []
        for line in lines:
            f = line.split()
            if f and f[0] == name:
                objsize = int(f[3])
                objperslab = int(f[4])
                pps = int(f[5])
                num = max(1, nbytes // objsize)
                slabs = (num + objperslab - 1) // objperslab
                line = ("%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : "
                        "slabdata %6d %6d %6d" % (name, num, num, objsize,
                                                  objperslab, pps, 0, 0, 0,
                                                  slabs, slabs, 0))
                found = True
            out.append(line)
        if not found:
            objsize, objperslab, pps = 1024, 32, 8
            num = max(1, nbytes // objsize)
            slabs = (num + objperslab - 1) // objperslab
            out.append("%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : "
                       "slabdata %6d %6d %6d" % (name, num, num, objsize,
                                                 objperslab, pps, 0, 0, 0,
                                                 slabs, slabs, 0))
        self.write("proc/slabinfo", "\n".join(out) + "\n")

    # -- /proc/pressure/memory -------------------------------------------------
    def set_psi(self, some_avg10=0.0, full_avg10=0.0):
        self.write("proc/pressure/memory",
                   "some avg10=%.2f avg60=%.2f avg300=%.2f total=%d\n"
                   "full avg10=%.2f avg60=%.2f avg300=%.2f total=%d\n" % (
                       some_avg10, some_avg10, some_avg10, 123456,
                       full_avg10, full_avg10, full_avg10, 65432))

    # -- NUMA ------------------------------------------------------------------
    def set_node(self, node, **kb):
        """Set fields of sys/devices/system/node/nodeN/meminfo (kB)."""
        rel = "sys/devices/system/node/node%d/meminfo" % node
        out = []
        for line in self.read(rel).splitlines():
            m = re.match(r"^(Node \d+ )([^:]+):(\s+)(\d+)(.*)$", line)
            if m and m.group(2) in kb:
                width = len(m.group(3)) + len(m.group(4))
                out.append("%s%s:%s%s" % (m.group(1), m.group(2),
                                          str(kb[m.group(2)]).rjust(width),
                                          m.group(5)))
            else:
                out.append(line)
        self.write(rel, "\n".join(out) + "\n")

    # -- cgroup v1 (the captured trees' layout) ----------------------------------
    def _set_stat(self, rel, value, *keys):
        """Set the lines `KEY N` of memory.stat at rel to value, for each
        of keys (a v1 group has its own and its hierarchical counter)."""
        stat = re.sub(r"^(%s) \d+$" % "|".join(keys),
                      lambda m: "%s %d" % (m.group(1), value),
                      self.read(rel), flags=re.M)
        self.write(rel, stat)

    def cgroup_v1_dir(self):
        for line in self.read("proc/self/cgroup").splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and "memory" in parts[1].split(","):
                return "sys/fs/cgroup/memory" + parts[2].rstrip("/")
        raise AssertionError("no v1 memory cgroup in this tree")

    def set_cgroup_v1(self, usage=None, limit=None, inactive_file=None):
        d = self.cgroup_v1_dir()
        if usage is not None:
            self.write(d + "/memory.usage_in_bytes", "%d\n" % usage)
        if limit is not None:
            self.write(d + "/memory.limit_in_bytes", "%d\n" % limit)
        if inactive_file is not None:
            self._set_stat(d + "/memory.stat", inactive_file,
                           "total_inactive_file", "inactive_file")

    # -- NUMA: which nodes the server may use ------------------------------------
    def set_mems_allowed(self, nodelist):
        """Rewrite Mems_allowed_list (and the Mems_allowed mask) of
        proc/self/status, e.g. "0" or "0-1". The sampler reads the node
        list when it starts: set it before httpd starts."""
        nodes = set()
        for part in nodelist.split(","):
            if "-" in part:
                a, b = part.split("-")
                nodes.update(range(int(a), int(b) + 1))
            elif part:
                nodes.add(int(part))
        mask = sum(1 << n for n in nodes)
        out = []
        for line in self.read("proc/self/status").splitlines():
            if line.startswith("Mems_allowed_list:"):
                line = "Mems_allowed_list:\t%s" % nodelist
            elif line.startswith("Mems_allowed:"):
                line = "Mems_allowed:\t00000000,%08x" % mask
            out.append(line)
        self.write("proc/self/status", "\n".join(out) + "\n")

    def node_meminfo(self, node):
        """{key: kB} of nodeN/meminfo."""
        out = {}
        rel = "sys/devices/system/node/node%d/meminfo" % node
        for line in self.read(rel).splitlines():
            m = re.match(r"^Node \d+ ([^:]+):\s+(\d+)", line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def set_node_available(self, node, kb):
        """Make the sampler's estimate of node's available memory (MemFree +
        file / 2 + SReclaimable / 2) about kb: page cache and reclaimable
        slab go to zero, MemFree takes the rest."""
        self.set_node(node, MemFree=kb, **{"Active(file)": 0,
                                           "Inactive(file)": 0,
                                           "SReclaimable": 0})

    # -- cgroup v2 (fedora38-v2-* layout) -------------------------------------------
    def cgroup_v2_dir(self):
        for line in self.read("proc/self/cgroup").splitlines():
            if line.startswith("0::"):
                return "sys/fs/cgroup" + line[3:].rstrip("/")
        raise AssertionError("no v2 cgroup in this tree")

    def set_cgroup_v2(self, current=None, max=None, inactive_file=None,
                      up=0):
        """memory.current, memory.max (an int or "max"), and inactive_file
        of memory.stat, in bytes; of the server's group, or with up=n of
        its n-th ancestor (which must have these files already)."""
        d = self.cgroup_v2_dir()
        for _ in range(up):
            d = d.rsplit("/", 1)[0]
        if current is not None:
            self.write(d + "/memory.current", "%d\n" % current)
        if max is not None:
            self.write(d + "/memory.max", "%s\n" % max)
        if inactive_file is not None:
            self._set_stat(d + "/memory.stat", inactive_file, "inactive_file")
