#!/usr/bin/env python3
"""hopcheck driver for curl: runs the installed curl once per step, the way
curl's documentation tells users to for each method, and reports what curl
got.

Protocol: one JSON plan per line on stdin, one JSON answer per line on stdout
(see harness/src/targets/mod.rs: Plan in, answer out; bodies in base64).
Each answer echoes the plan's `id`; the plan's `timeout_ms` (the case's time
limit) bounds each curl run. Scratch files live in the plan's `state_dir`,
which the harness removes, so a killed driver leaves nothing behind.
A step's `error` is curl reporting a transfer error (a non-zero exit): the
case judges it. A fault of this driver (a Python exception, curl output it
cannot read, a step it cannot express) is the step's `driver_error`, or the
answer's top-level `driver_error` when the plan itself cannot be handled;
the harness makes those cases `error`, never curl's `fail`. Python standard
library only; the command lines run are logged to stderr.
"""

import base64
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.parse

CURL = "curl"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
# -w: curl's JSON summary on one line, then the effective URL as raw bytes on
# the next. curl 7.88.1 writes each byte >= 0x80 of a URL inside %{json} as
# the six letters `uffffffXX` (a signed char printed as "\u%04x" without its
# backslash), so the URL is read from %{url_effective}, which curl writes
# byte for byte.
WRITE_OUT = "%{json}\\n%{url_effective}"
# `curl -X HEAD` reads the body the response announces (man curl, -X: "this
# option only changes the actual word used in the HTTP request, it does not
# alter the way curl behaves"); no body follows a HEAD response, so curl
# waits. The wait is bounded like a user's script would bound it.
HEAD_MAX_TIME_S = "5"


class DriverFault(Exception):
    """Something this driver cannot do or read: the step's `driver_error`."""


def curl_environment(state_dir):
    """The caller's environment without proxy settings, HOME in the state folder."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env["HOME"] = state_dir
    env.pop("CURL_HOME", None)
    env.pop("XDG_CONFIG_HOME", None)
    return env


def write_preload(path, preload):
    """curl's HSTS cache format: `host "expiry"` per line, a leading dot for
    includeSubDomains, "unlimited" for an entry that never expires."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# HSTS preload written by the hopcheck curl driver\n")
        for entry in preload:
            host = entry["host"].rstrip(".").lower()
            dot = "." if entry.get("include_subdomains") else ""
            f.write(f'{dot}{host} "unlimited"\n')


def has_file_part(url):
    """Whether the URL's path ends in a name: `-T FILE URL` appends FILE's name
    to a URL without one (man curl, -T), which would change the request."""
    path = urllib.parse.urlsplit(url).path
    return bool(path) and not path.endswith("/")


def method_arguments(method, body, body_file, url):
    """What curl's documentation tells a user to write for this method and
    body. `-X` only where curl has no dedicated option: it pins the method
    string on every hop (man curl, -X)."""
    if method == "GET" and not body:
        return []
    if method == "HEAD":
        if not body:
            return ["-I"]
        # -I refuses a body ("You can only select one HTTP request method!").
        return ["-X", "HEAD", "--data-binary", "@" + body_file, "--max-time", HEAD_MAX_TIME_S]
    if method == "POST":
        # -d/--data-binary makes curl POST; curl then switches to GET on
        # 301/302/303 itself, as browsers do (man curl, --post301).
        return ["--data-binary", "@" + body_file]
    if method == "PUT" and body and has_file_part(url):
        # -T/--upload-file is curl's PUT for HTTP; the upload is replayed
        # after 301/302/307/308 and dropped for a GET after 303.
        return ["-T", body_file]
    args = ["-X", method]
    if body:
        args += ["--data-binary", "@" + body_file]
    return args


def header_arguments(headers):
    args = []
    for name, value in headers:
        # `Name:` would remove curl's own header; `Name;` sends it empty.
        args += ["-H", f"{name}: {value}" if value else f"{name};"]
    return args


def text(raw):
    """Bytes as text without guessing an encoding: UTF-8 when they are UTF-8,
    else each byte as the character of the same number (Latin-1), so no byte
    is lost or replaced."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def url_text(raw):
    """A URL curl wrote as raw bytes: UTF-8 when it is, else the bytes that
    are not percent-encoded (a URL is ASCII on the wire)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return urllib.parse.quote(raw, safe=bytes(range(0x21, 0x7F)))


def last_header_block(raw):
    """The fields of the last response in a -D dump (one block per hop)."""
    blocks, current = [], None
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if line.startswith(b"HTTP/"):
            current = []
            blocks.append(current)
        elif line and current is not None and b":" in line:
            name, value = line.split(b":", 1)
            current.append([text(name), text(value.strip())])
    return blocks[-1] if blocks else []


def read_write_out(stdout):
    """curl's -w output: the %{json} line, then the raw effective URL."""
    json_line, newline, url = stdout.partition(b"\n")
    if not newline:
        raise DriverFault(f"curl's -w output has no URL line: {stdout[:200]!r}")
    try:
        # Every byte curl puts in %{json} outside URLs is ASCII.
        summary = json.loads(json_line.decode("utf-8", "surrogateescape"))
    except ValueError as e:
        raise DriverFault(f"curl's %{{json}} is not JSON ({e}): {json_line[:200]!r}") from None
    if not isinstance(summary, dict):
        raise DriverFault(f"curl's %{{json}} is not an object: {json_line[:200]!r}")
    return summary, url


def remaining_seconds(deadline):
    """What is left of the case's time limit, for curl's --max-time."""
    return max(deadline - time.monotonic(), 0.001)


def run_step(plan, step, hsts_file, env, scratch, deadline):
    body = base64.b64decode(step["body"])
    if step.get("streamed"):
        raise DriverFault("curl has no streamed (non-replayable) request body; the target declares `streamed-body` unsupported")
    body_file = os.path.join(scratch, "request-body")
    header_file = os.path.join(scratch, "response-headers")
    output_file = os.path.join(scratch, "response-body")
    with open(body_file, "wb") as f:
        f.write(body)
    for stale in (header_file, output_file):
        if os.path.exists(stale):
            os.remove(stale)

    args = [CURL, "-q", "--no-progress-meter", "--connect-to", "::" + plan["connect_to"], "--cacert", plan["ca_file"]]
    args += ["--hsts", hsts_file]
    if step.get("follow"):
        args.append("-L")
    if step.get("insecure"):
        args.append("-k")
    args += header_arguments(step["headers"])
    args += method_arguments(step["method"], body, body_file, step["url"])
    args += ["-D", header_file, "-o", output_file, "-w", WRITE_OUT, step["url"]]

    delay = step.get("delay_ms", 0)
    if delay:
        time.sleep(delay / 1000)
    log("$ " + shlex.join(args))
    # The harness kills this driver at the case's time limit; a curl still
    # running then would only be killed with it, so it gets the same limit.
    timeout = remaining_seconds(deadline)
    try:
        done = subprocess.run(args, env=env, cwd=scratch, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DriverFault(f"curl was still running at the case's time limit ({plan.get('timeout_ms')} ms)") from None
    stderr = text(done.stderr).strip()
    if stderr:
        log(stderr)
    if done.returncode != 0:
        # curl reports a transfer error: the client's own answer, judged.
        message = stderr
        if not message:
            try:
                message, _ = read_write_out(done.stdout)
                message = message.get("errormsg") or ""
            except DriverFault:
                message = ""
        return {"error": f"curl exit {done.returncode}: {message}".strip()}

    summary, url = read_write_out(done.stdout)
    code = summary.get("http_code")
    if not isinstance(code, int):
        raise DriverFault(f"curl's %{{json}} has no numeric http_code: {summary.get('http_code')!r}")
    result = {"status": code, "url": url_text(url)}
    result["headers"] = last_header_block(read(header_file))
    # With -I the "body" curl writes is the header dump: HEAD has no body.
    content = b"" if step["method"] == "HEAD" else read(output_file)
    result["body"] = base64.b64encode(content).decode("ascii")
    return result


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def answer(plan):
    deadline = time.monotonic() + plan.get("timeout_ms", 30_000) / 1000
    state_dir = plan["state_dir"]
    hsts_file = os.path.join(state_dir, "hsts.txt")
    write_preload(hsts_file, plan.get("preload", []))
    env = curl_environment(state_dir)
    results = []
    scratch = os.path.join(state_dir, "curl-scratch")
    os.makedirs(scratch, exist_ok=True)
    for step in plan["steps"]:
        try:
            results.append(run_step(plan, step, hsts_file, env, scratch, deadline))
        except DriverFault as e:
            results.append({"driver_error": str(e)})
        except Exception as e:  # a bug of this driver, never curl's answer
            results.append({"driver_error": f"{type(e).__name__}: {e}"})
    return {"id": plan["id"], "steps": results, "unsupported": []}


def log(message):
    print(message, file=sys.stderr, flush=True)


def plan_id(line):
    """The plan's id, if the line is readable enough to have one."""
    try:
        return json.loads(line).get("id")
    except Exception:
        return None


def main():
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as e:
            log(f"driver error: cannot handle the plan line: {type(e).__name__}: {e}")
            reply = {"id": plan_id(line), "driver_error": f"cannot handle the plan: {type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
