#!/usr/bin/env python3
# Prints the host's own Debian apt sources for one suite (argument 1) as deb822 stanzas:
# the <suite>, <suite>-updates and <suite>-security entries of /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.{list,sources}; other repositories are left out. Used by the
# node-base and postgres-base recipes (agent-base/build.sh carries its own copy).
import glob, os, re, sys
suite = sys.argv[1]
ok = re.compile(r"^%s(-updates|-security)?$" % re.escape(suite))
entries = []  # (uris, suites, components, signed_by), written out as deb822

def add(uris, suites, components, signed_by):
    if suites and all(ok.match(s) for s in suites):
        entries.append((uris, suites, components or ["main"], signed_by))

paths = ["/etc/apt/sources.list"] if os.path.isfile("/etc/apt/sources.list") else []
paths += sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
paths += sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in paths:
    text = open(path, encoding="utf-8").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, val = line.partition(":")
                key = key.strip().lower()
                fields[key] = val.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            add(fields.get("uris", "").split(), fields.get("suites", "").split(),
                fields.get("components", "").split(), fields.get("signed-by"))
    else:
        for line in text.splitlines():
            m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line.split("#", 1)[0])
            if not m:
                continue
            opts = dict(o.split("=", 1) for o in (m.group(1) or "").strip(" []\t\n").split() if "=" in o)
            add([m.group(2)], [m.group(3)], m.group(4).split(), opts.get("signed-by"))
if not entries:
    sys.exit("no enabled 'deb' entries for %s in /etc/apt/sources.list{,.d/}" % suite)
for uris, suites, components, signed_by in entries:
    print("Types: deb")
    print("URIs: " + " ".join(uris))
    print("Suites: " + " ".join(suites))
    print("Components: " + " ".join(components))
    if signed_by:
        print("Signed-By: " + signed_by)
    print()
