#!/usr/bin/env python3
"""hopcheck driver for curl: runs the installed curl once per step, the way
curl's documentation tells users to for each method, and reports what curl
got.

The protocol (plan lines in, answer lines out, step `error` versus
`driver_error`) is in ../python-common/driver_protocol.py, and what the
drivers of command-line clients share (the scratch folder in the plan's
`state_dir`, the logged command line, the run bounded by the case's time
limit) in ../python-common/cli_driver.py; both are shared with the other
Python drivers. A step's `error` is curl reporting a transfer error (a
non-zero exit): the case judges it. A fault of this driver (a Python
exception, curl output it cannot read, a step it cannot express) is the
step's `driver_error`, never curl's `fail`. Python standard library only.
"""

import json
import os
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from cli_driver import CommandLineRuns, read, url_text
from driver_protocol import ClientError, DriverFault, log, serve, text

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


class CurlRuns(CommandLineRuns):
    """curl's runs for one plan: its HSTS cache in the plan's state folder,
    preloaded before the first step."""

    def __init__(self, plan):
        super().__init__(CURL, plan, curl_environment(plan.state_dir))
        self.hsts_file = os.path.join(plan.state_dir, "hsts.txt")
        write_preload(self.hsts_file, plan.preload)
        self.header_file = os.path.join(self.scratch, "response-headers")

    def run_step(self, plan, step):
        if step.streamed:
            raise DriverFault("curl has no streamed (non-replayable) request body; the target declares `streamed-body` unsupported")
        self.prepare(step, self.header_file)

        args = [CURL, "-q", "--no-progress-meter", "--connect-to", "::" + plan.connect_to, "--cacert", plan.ca_file]
        args += ["--hsts", self.hsts_file]
        if step.follow:
            args.append("-L")
        if step.insecure:
            args.append("-k")
        args += header_arguments(step.headers)
        args += method_arguments(step.method, step.body, self.body_file, step.url)
        args += ["-D", self.header_file, "-o", self.output_file, "-w", WRITE_OUT, step.url]

        # curl gets what is left of the case's time limit.
        done = self.run(args, timeout=max(plan.deadline - time.monotonic(), 0.001))
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
            raise ClientError(f"curl exit {done.returncode}: {message}".strip())

        summary, url = read_write_out(done.stdout)
        code = summary.get("http_code")
        if not isinstance(code, int):
            raise DriverFault(f"curl's %{{json}} has no numeric http_code: {summary.get('http_code')!r}")
        # With -I the "body" curl writes is the header dump: HEAD has no body.
        return self.response(step, code, url_text(url), last_header_block(read(self.header_file)))


if __name__ == "__main__":
    serve(CurlRuns)
