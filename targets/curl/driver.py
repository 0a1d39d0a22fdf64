#!/usr/bin/env python3
"""hopcheck driver for curl: runs the installed curl once per step, the way a
typical user types it, and reports what curl got.

Protocol: one JSON plan per line on stdin, one JSON answer per line on stdout
(see harness/src/targets/mod.rs: Plan in, TargetRun out; bodies in base64).
Python standard library only. Anything unexpected becomes a per-step error
string, never a crash; the command lines run are logged to stderr.
"""

import base64
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

CURL = "curl"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


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


def method_arguments(method, body, body_file):
    """What a typical user writes for this method and body. `-X` is only used
    when no dedicated option exists; curl then sends it on every hop."""
    if method == "GET" and not body:
        return []
    if method == "HEAD":
        # With a body this is what a user would try; curl refuses it itself.
        return ["-I"] + (["--data-binary", "@" + body_file] if body else [])
    if method == "POST":
        return ["--data-binary", "@" + body_file]
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
    for line in raw.decode("latin-1").split("\n"):
        line = line.rstrip("\r")
        if line.startswith("HTTP/"):
            current = []
            blocks.append(current)
        elif line and current is not None and ":" in line:
            name, value = line.split(":", 1)
            current.append([name, value.strip()])
    return blocks[-1] if blocks else []


class DriverError(Exception):
    """A step this driver cannot express with curl."""


def run_step(plan, step, hsts_file, env, scratch):
    body = base64.b64decode(step["body"])
    if step.get("streamed"):
        raise DriverError("curl has no streamed (non-replayable) request bodies")
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
    args += method_arguments(step["method"], body, body_file)
    args += ["-D", header_file, "-o", output_file, "-w", "%{json}", step["url"]]

    delay = step.get("delay_ms", 0)
    if delay:
        time.sleep(delay / 1000)
    log("$ " + shlex.join(args))
    done = subprocess.run(args, env=env, cwd=scratch, stdin=subprocess.DEVNULL, capture_output=True)
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if stderr:
        log(stderr)
    if done.returncode != 0:
        try:
            message = json.loads(done.stdout).get("errormsg") or ""
        except ValueError:
            message = ""
        return {"error": f"curl exit {done.returncode}: {stderr or message}".strip()}

    written = json.loads(done.stdout)
    result = {"status": written["http_code"], "url": written["url_effective"]}
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
    state_dir = plan["state_dir"]
    hsts_file = os.path.join(state_dir, "hsts.txt")
    write_preload(hsts_file, plan.get("preload", []))
    env = curl_environment(state_dir)
    results = []
    with tempfile.TemporaryDirectory(prefix="hopcheck-curl-") as scratch:
        for step in plan["steps"]:
            try:
                results.append(run_step(plan, step, hsts_file, env, scratch))
            except DriverError as e:
                results.append({"error": str(e)})
            except Exception as e:  # anything else is the driver's fault, reported per step
                results.append({"error": f"driver error: {type(e).__name__}: {e}"})
    return {"steps": results, "unsupported": []}


def log(text):
    print(text, file=sys.stderr, flush=True)


def main():
    for line in sys.stdin:
        try:
            plan = json.loads(line)
            reply = answer(plan)
        except Exception as e:
            # Not a plan: no steps to answer; the harness reports the mismatch.
            log(f"driver error: cannot handle the plan line: {type(e).__name__}: {e}")
            reply = {"steps": [], "unsupported": []}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
