"""Helpers of bench/build.sh: a loopback index that counts what it serves, and the
BuildKit steps of a build (which ran, how long) from either side's output.

  serve DIR PORT LOG        serve DIR on 127.0.0.1:PORT; append "BYTES PATH" to LOG per response
  served LOG                total bytes LOG records
  trace OUT.json            read the engine's JSON stream of a BuildKit build (`version=2`)
                            on stdin; write {"image_id", "steps"} to OUT.json; exit 1 on an
                            error line, printing it and the last lines of the build's logs
  plain LOG OUT.json        the same steps from `dockgen build --progress plain` output
  stages OUT.json           one line: seconds per stage of the steps that ran
  ran OUT.json              how many Dockerfile steps ran (were not cached), FROM aside
"""

import base64
import functools
import http.server
import json
import re
import sys


def serve(directory, port, log):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def copyfile(self, source, outputfile):
            sent = 0
            while chunk := source.read(1 << 16):
                outputfile.write(chunk)
                sent += len(chunk)
            with open(log, "a") as f:
                f.write(f"{sent} {self.path}\n")

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler).serve_forever()


def served(log):
    with open(log) as f:
        print(sum(int(line.split()[0]) for line in f if line.strip()))


# The few protobuf fields of moby.buildkit.v1.StatusResponse the bench reads:
# vertexes = 1 (Vertex: digest = 1, name = 3, cached = 4, started = 5, completed = 6,
# error = 7; Timestamp: seconds = 1, nanos = 2) and logs = 3 (VertexLog: msg = 4).
def fields(data):
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield number, value


def varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def timestamp(data):
    parts = dict(fields(data))
    return parts.get(1, 0) + parts.get(2, 0) / 1e9


def trace(out):
    vertexes, logs, image_id, errors = {}, [], None, []
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if "error" in message or "errorDetail" in message:
            errors.append(message.get("error") or message["errorDetail"].get("message", ""))
        if message.get("id") == "moby.image.id":
            image_id = message["aux"]["ID"]
        if message.get("id") != "moby.buildkit.trace":
            continue
        for number, value in fields(base64.b64decode(message["aux"])):
            if number == 3:
                logs.extend(
                    bytes(v).decode(errors="replace") for n, v in fields(value) if n == 4
                )
                continue
            if number != 1:
                continue
            vertex = {}
            for n, v in fields(value):
                if n == 1:
                    vertex["digest"] = v.decode()
                elif n == 3:
                    vertex["name"] = v.decode()
                elif n == 4:
                    vertex["cached"] = bool(v)
                elif n == 5:
                    vertex["started"] = timestamp(v)
                elif n == 6:
                    vertex["completed"] = timestamp(v)
            vertexes.setdefault(vertex.pop("digest"), {}).update(vertex)
    steps = [
        {
            "name": v.get("name", ""),
            "cached": v.get("cached", False),
            "seconds": v["completed"] - v["started"]
            if "started" in v and "completed" in v
            else 0.0,
        }
        for v in vertexes.values()
    ]
    with open(out, "w") as f:
        json.dump({"image_id": image_id, "steps": steps}, f, indent=1)
    if errors or image_id is None:
        sys.stderr.write("".join(logs)[-4000:])
        sys.stderr.write("\nbuild failed: " + ("; ".join(errors) or "no image id") + "\n")
        sys.exit(1)


def plain(log, out):
    steps, current = [], {}
    for line in open(log, errors="replace"):
        line = line.rstrip("\n")
        if m := re.match(r"#(\d+) (DONE ([\d.]+)s|CACHED|ERROR.*)$", line):
            step = current.get(m[1])
            if step is not None and m[3]:
                step["seconds"] = float(m[3])
            elif step is not None and m[2] == "CACHED":
                step["cached"] = True
        elif m := re.match(r"#(\d+) (?!\| )(.*?)( CACHED)?$", line):
            # Each build numbers its steps from #1: a new name line starts a new step.
            step = {"name": m[2], "cached": bool(m[3]), "seconds": 0.0}
            current[m[1]] = step
            steps.append(step)
    with open(out, "w") as f:
        json.dump({"steps": steps}, f, indent=1)


def stage(name):
    if m := re.match(r"\[([\w.-]+)[ \]]", name):
        return m[1]
    if name.startswith("exporting to "):
        return "export:" + name.removeprefix("exporting to ")
    return "context" if name.startswith("copy /context") else name.split()[0]


def stages(path):
    seconds = {}
    for step in json.load(open(path))["steps"]:
        if not step["cached"]:
            key = stage(step["name"])
            seconds[key] = seconds.get(key, 0.0) + step["seconds"]
    print("  ".join(f"{k} {v:.1f}" for k, v in seconds.items() if v >= 0.05) or "-")


def ran(path):
    # A FROM step never shows as cached: the engine resolves the image on every build.
    step = re.compile(r"\[[\w.-]+ \d+/\d+\] (?!FROM )")
    steps = json.load(open(path))["steps"]
    print(sum(1 for s in steps if not s["cached"] and step.match(s["name"])))


COMMANDS = {"serve": serve, "served": served, "trace": trace, "plain": plain, "stages": stages, "ran": ran}

if __name__ == "__main__":
    command, *args = sys.argv[1:]
    COMMANDS[command](*args)
