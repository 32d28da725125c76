#!/usr/bin/env python3
"""Check that the docs say only what the tree holds.

    tools/doccheck.py          run every check; exit 1 on any problem

1. Citations: every file the tree's Markdown cites, and every file the
   comments of conf/*.conf cite, exists in the tree. A citation is a
   Markdown link target (relative to the file that holds it), a path
   whose first part is one of the tree's top-level entries (relative to
   the top: `t/bench/bench_overhead.py`), a path whose first part is an
   entry beside the citing file (`core/mg_board.h` in mod_memguard/), or
   a bare file name with a source extension (`mg_board.h`, which must be
   somewhere in the tree). Globs (`mg_*.[ch]`) must match something; a
   link's `#anchor` must be a heading of the Markdown file it points to.
   What builds make (build/, run/, .libs/) and absolute paths (system
   files, /proc) are not the tree's and are not checked.
2. Directives: conf/README.md has one `### Name` heading for every
   directive the module registers (AP_INIT_* in mod_memguard/), none for
   a directive it does not have, and each of those blocks gives
   Description, Syntax, Default, Context and Override.
3. README.md's first screen, up to its first `##` heading, fits 60 lines.

Each problem is printed as file:line: what.
"""
import fnmatch
import glob
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", "build", "run", ".libs", "__pycache__"}
SOURCE_EXT = ("c", "h", "py", "sh", "wsgi", "md")
FIELDS = ("Description", "Syntax", "Default", "Context", "Override")
FIRST_SCREEN = 60

LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path: parts joined by '/', not itself the tail of a longer path, a
# URL or an absolute path (nothing path-like right before it).
PATH = re.compile(r"(?<![\w/.:~@$-])((?:\.\.?/)*[\w.+*?\[\]{},-]+"
                  r"(?:/[\w.+*?\[\]{},-]*)+)")
BARE = re.compile(r"(?<![\w/.:~@$-])([\w*?][\w*?\[\]-]*\.(?:%s))(?![\w/-])"
                  % "|".join(SOURCE_EXT))
HEADING = re.compile(r"^### (MemGuard\w+)\s*$")
AP_INIT = re.compile(r"AP_INIT_\w+\(\s*\"(\w+)\"")


def tree_files():
    """Every file of the tree (relative paths), generated ones left out."""
    out = []
    for root, dirs, files in os.walk(TOP):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), TOP))
    return sorted(out)


def expand_braces(p):
    m = re.search(r"\{([^{}]*)\}", p)
    if m is None:
        return [p]
    return [q for alt in m.group(1).split(",")
            for q in expand_braces(p[:m.start()] + alt + p[m.end():])]


def exists(rel):
    """Does rel (relative to the top, maybe a glob) name something?"""
    for p in expand_braces(rel):
        p = p.rstrip("/")
        if any(c in p for c in "*?["):
            if not glob.glob(os.path.join(TOP, p)):
                return False
        elif not os.path.exists(os.path.join(TOP, p)):
            return False
    return True


def anchors(rel):
    """The anchors GitHub makes of rel's headings: lower case, spaces as
    hyphens, punctuation other than hyphens and underscores dropped."""
    out = set()
    with open(os.path.join(TOP, rel), encoding="utf-8") as fh:
        fence = False
        for line in fh:
            if line.startswith("```"):
                fence = not fence
            m = None if fence else re.match(r"^#{1,6} +(.*?)\s*$", line)
            if m:
                s = re.sub(r"[^\w\- ]", "", m.group(1).lower())
                out.add(s.replace(" ", "-"))
    return out


def generated(rel):
    parts = rel.split("/")
    return parts[0] in SKIP_DIRS or any(p in SKIP_DIRS for p in parts)


def resolve(token, here, top_entries):
    """The path token cites, relative to the top, or None if it does not
    cite a file of the tree."""
    t = token.rstrip(".,:;")
    if not t or t.startswith("/"):
        return None
    while t.startswith("./"):
        t = t[2:]
    if t.startswith("../"):
        rel = os.path.normpath(os.path.join(here, t))
        return None if rel.startswith("..") else rel
    first = t.split("/", 1)[0]
    if first in top_entries:
        return os.path.normpath(t) + ("/" if t.endswith("/") else "")
    if here and os.path.exists(os.path.join(TOP, here, first)):
        return os.path.normpath(os.path.join(here, t))
    return None


def cited(path, lines):
    """(line number, token, kind) for each citation in lines."""
    for n, line in enumerate(lines, 1):
        seen = set()
        for m in LINK.finditer(line):
            if re.match(r"^[a-z]+:", m.group(1)):
                continue
            seen.add(m.group(1).split("#", 1)[0])
            yield n, m.group(1), "link"
        for m in PATH.finditer(line):
            if m.group(1) not in seen:
                yield n, m.group(1), "path"
        for m in BARE.finditer(line):
            yield n, m.group(1), "bare"


def check_citations(files):
    problems = []
    top_entries = set(os.listdir(TOP)) - SKIP_DIRS
    basenames = [os.path.basename(f) for f in files]
    docs = [f for f in files if f.endswith(".md")]
    confs = [f for f in files if re.match(r"^conf/[^/]+\.conf$", f)]
    for doc in docs + confs:
        with open(os.path.join(TOP, doc), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        if doc in confs:  # only the comments of a conf file
            lines = [ln if ln.lstrip().startswith("#") else ""
                     for ln in lines]
        here = os.path.dirname(doc)
        for n, token, kind in cited(doc, lines):
            if kind == "bare":
                name = token
                if not any(fnmatch.fnmatchcase(b, name) for b in basenames):
                    problems.append("%s:%d: cites %s, which is not in the "
                                    "tree" % (doc, n, token))
                continue
            if kind == "link":
                target, _, anchor = token.partition("#")
                rel = os.path.normpath(os.path.join(here, target or
                                                    os.path.basename(doc)))
                if rel.startswith(".."):
                    problems.append("%s:%d: links to %s, outside the tree"
                                    % (doc, n, token))
                    continue
                if (anchor and rel.endswith(".md") and exists(rel)
                        and anchor not in anchors(rel)):
                    problems.append("%s:%d: links to %s, a heading %s does "
                                    "not have" % (doc, n, token, rel))
                    continue
            else:
                rel = resolve(token, here, top_entries)
                if rel is None:
                    continue
            if generated(rel):
                continue
            if not exists(rel):
                problems.append("%s:%d: cites %s, which is not in the tree"
                                % (doc, n, token))
    return problems


def check_directives():
    problems = []
    names = {}
    for path in sorted(glob.glob(os.path.join(TOP, "mod_memguard", "**",
                                              "*.c"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for m in AP_INIT.finditer(text):
            names.setdefault(m.group(1), "%s:%d" % (
                os.path.relpath(path, TOP), text.count("\n", 0, m.start()) + 1))
    ref = "conf/README.md"
    try:
        with open(os.path.join(TOP, ref), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except OSError:
        return ["%s: missing: it is the directive reference" % ref]
    if not names:
        problems.append("mod_memguard/: no AP_INIT_ directive found")
    headings = {}
    for n, line in enumerate(lines, 1):
        m = HEADING.match(line)
        if m:
            if m.group(1) in headings:
                problems.append("%s:%d: %s documented twice"
                                % (ref, n, m.group(1)))
            headings[m.group(1)] = n
    for name, where in sorted(names.items()):
        if name not in headings:
            problems.append("%s: directive %s has no '### %s' in %s"
                            % (where, name, name, ref))
    for name, n in sorted(headings.items(), key=lambda kv: kv[1]):
        if name not in names:
            problems.append("%s:%d: %s is not a directive of the module "
                            "(stale)" % (ref, n, name))
        block = []
        for line in lines[n:]:
            if line.startswith("#"):
                break
            block.append(line)
        for field in FIELDS:
            if not any(re.match(r"^\| *\**%s\** *\|" % field, b)
                       for b in block):
                problems.append("%s:%d: %s has no %s row"
                                % (ref, n, name, field))
    return problems


def check_first_screen():
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for n, line in enumerate(lines, 1):
        if line.startswith("## "):
            if n - 1 > FIRST_SCREEN:
                return ["README.md:%d: the first screen is %d lines (at "
                        "most %d before the first '##')"
                        % (n, n - 1, FIRST_SCREEN)]
            return []
    return ["README.md: no '##' heading ends the first screen"]


def main():
    problems = (check_citations(tree_files()) + check_directives()
                + check_first_screen())
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
