#!/usr/bin/env python3
"""Check that calls run one way: down the layers listed below, never up,
never sideways within a layer.

    tools/layers.py            check (after `make module`), exit 1 on a
                               wrong call or include, naming the file, the
                               symbol and the two layers
    tools/layers.py --list     print the layers and the files in each

What is read: the objects' symbols (nm), so every call and every shared
variable counts, whatever header declared it: the core's objects in
build/core/, the glue's in mod_memguard/httpd/.libs/. A symbol an object
uses (nm -u) and another object defines belongs to that other file, and
that file's layer must be below the user's. The #include lines of each
file and of its own header are checked the same way (a header belongs to
the .c of the same name), so a file cannot lean on a higher layer's types
either.

The layers, top to bottom, are written once, in LAYERS. Each file (its
name without .c) is in exactly one; a new file is one name added to a
line. An object in no layer is an error (say where it belongs); a name
listed here that is not in the tree is skipped, so the list may name a
file that is only planned.
"""
import glob
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Top to bottom. A file may use what the layers below its own define.
LAYERS = [
    # -- glue (mod_memguard/httpd/): httpd calls in at the top
    ("hooks", ["mod_memguard"]),
    ("directive table", ["mod_memguard_directives"]),
    ("server-wide directives", ["mod_memguard_directives_server"]),
    # features: the inspection drives the per-call steps, which use the
    # child's recycling; the sampler drives its side of recycling
    ("feature: XML-RPC inspection", ["mod_memguard_xmlrpc"]),
    ("feature: the inspected body's spool", ["mod_memguard_spool"]),
    ("feature: request steps", ["mod_memguard_account", "mod_memguard_gate",
                                "mod_memguard_rules", "mod_memguard_body"]),
    ("feature: per-call limits", ["mod_memguard_admit",
                                  "mod_memguard_respcap",
                                  "mod_memguard_nice"]),
    ("feature: processes and views", ["mod_memguard_sampler",
                                      "mod_memguard_status"]),
    ("feature: the sampler process", ["mod_memguard_sampler_proc"]),
    ("feature: recycling", ["mod_memguard_recycle",
                            "mod_memguard_recycle_sampler"]),
    ("feature: recycling's limits", ["mod_memguard_recycle_limits"]),
    # shared services
    ("service: refusals", ["mod_memguard_reject"]),
    ("service: the board's glue", ["mod_memguard_board"]),
    ("service: request context", ["mod_memguard_request"]),
    ("service: XML-RPC configuration", ["mod_memguard_xrconf"]),
    ("service: configuration", ["mod_memguard_config"]),
    ("service: value parsers, own size", ["mod_memguard_parse",
                                          "mod_memguard_statm"]),
    # -- core (mod_memguard/core/): never calls the glue. Where the core is
    # being split, a file not listed yet is one name added to a line.
    ("core: status format dispatch", ["mg_status_render"]),
    ("core: status renderers", ["mg_status_html", "mg_status_text"]),
    ("core: status model", ["mg_status"]),
    ("core: aggregate reader", ["mg_proc"]),
    ("core: per-source readers", ["mg_cgroup", "mg_numa", "mg_procpid"]),
    ("core: /proc parsers", ["mg_procfs"]),
    ("core: board, admission", ["mg_board_admit"]),
    ("core: board, methods", ["mg_board_method"]),
    ("core: board", ["mg_board"]),
    ("core: policy's descriptions, recycling", ["mg_policy_describe",
                                                "mg_policy_recycle"]),
    ("core: policy", ["mg_policy"]),
    ("core: XML-RPC inspector", ["mg_xmlrpc"]),
    ("core: inspector's fast path", ["mg_xmlrpc_fast"]),
    ("core: inspector's SAX handlers", ["mg_xmlrpc_sax"]),
    ("core: inspector's refusals", ["mg_xmlrpc_refuse"]),
    ("core: base", ["mg_units", "mg_format", "mg_reason", "mg_log"]),
]

# Used by every glue file, defined at the top: httpd's module record
# (AP_DECLARE_MODULE in mod_memguard.c). Each file reaches its own
# configuration and its log index through it; it is data, not a call.
# mod_memguard.h declares it (and nothing of the hooks' own).
EVERYONE = {"memguard_module"}
EVERYONE_HEADERS = {"mod_memguard"}

OBJ_DIRS = [("mod_memguard/core", "build/core"),
            ("mod_memguard/httpd", "mod_memguard/httpd/.libs")]


def rank_of():
    rank, name = {}, {}
    for i, (layer, files) in enumerate(LAYERS):
        for f in files:
            if f in rank:
                sys.exit("tools/layers.py: %s is in two layers" % f)
            rank[f] = i
            name[f] = layer
    return rank, name


def nm(path, *args):
    out = subprocess.run(["nm", *args, path], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.split()]


def objects():
    """{stem: (source path, object path)} for every source in the tree."""
    objs = {}
    for src_dir, obj_dir in OBJ_DIRS:
        for src in sorted(glob.glob(os.path.join(TOP, src_dir, "*.c"))):
            stem = os.path.basename(src)[:-2]
            obj = os.path.join(TOP, obj_dir, stem + ".o")
            objs[stem] = (os.path.relpath(src, TOP), obj)
    return objs


def main():
    rank, lname = rank_of()
    if "--list" in sys.argv[1:]:
        present = objects()
        for layer, files in LAYERS:
            names = [f for f in files if f in present]
            print("%-34s %s" % (layer, " ".join(names) or "(none yet)"))
        return 0
    objs = objects()
    errors = []
    for stem, (src, obj) in objs.items():
        if stem not in rank:
            errors.append("%s: in no layer (add its name to one line of "
                          "LAYERS in tools/layers.py)" % src)
        if not os.path.exists(obj) or os.path.getmtime(obj) < \
                os.path.getmtime(os.path.join(TOP, src)):
            sys.exit("tools/layers.py: %s is missing or older than %s: "
                     "run `make module` first" % (obj, src))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    owner = {}
    for stem, (src, obj) in objs.items():
        for sym in nm(obj, "--defined-only", "-g"):
            owner[sym] = stem
    for stem, (src, obj) in sorted(objs.items()):
        for sym in sorted(set(nm(obj, "-u"))):
            other = owner.get(sym)
            if other is None or other == stem or sym in EVERYONE:
                continue
            if rank[other] <= rank[stem]:
                errors.append(
                    "%s: uses %s from %s.c: layer '%s' may not call %s "
                    "layer '%s'" % (src, sym, other, lname[stem],
                                    "within its" if rank[other] == rank[stem]
                                    else "up to", lname[other]))
        # the file and its own header
        for path in (src, src[:-2] + ".h"):
            if not os.path.exists(os.path.join(TOP, path)):
                continue
            with open(os.path.join(TOP, path)) as f:
                text = f.read()
            for m in re.finditer(r'^#\s*include\s+"([\w.]+)\.h"', text,
                                 re.M):
                other = m.group(1)
                if other == stem or other not in objs or \
                        other in EVERYONE_HEADERS:
                    continue
                if rank[other] <= rank[stem]:
                    errors.append(
                        "%s: includes %s.h: layer '%s' may not include %s "
                        "layer '%s'" % (path, other, lname[stem],
                                        "within its"
                                        if rank[other] == rank[stem]
                                        else "up to", lname[other]))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print("tools/layers.py: %d wrong-way use(s); the layers are LAYERS "
              "in tools/layers.py" % len(errors), file=sys.stderr)
        return 1
    print("tools/layers.py: %d files, every call and include runs down "
          "the layers" % len(objs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
