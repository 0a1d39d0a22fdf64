#!/usr/bin/env python3
"""hopcheck driver for GNU wget: runs the installed wget once per step, the
way wget's manual tells users to for each method, and reports what wget got.

The protocol (plan lines in, answer lines out, step `error` versus
`driver_error`) is in ../python-common/driver_protocol.py, and what the
drivers of command-line clients share (the scratch folder in the plan's
`state_dir`, the logged command line, the run bounded by the case's time
limit) in ../python-common/cli_driver.py; both are shared with the other
Python drivers. The HSTS database lives in the plan's `state_dir` too.
A step's `error` is wget reporting that the transfer failed (a non-zero exit
without a final response): the case judges it. A fault of this driver (a
Python exception, wget output it cannot read, a step it cannot express) is
the step's `driver_error`, never wget's `fail`. Python standard library
only; the command lines run are logged to stderr, followed by wget's own log.
"""

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from cli_driver import CommandLineRuns, read, url_text
from driver_protocol import ClientError, DriverFault, log, serve, text

WGET = "wget"
# Every proxy variable wget reads (src/retr.c getproxy, src/init.c), any case;
# the driver sets the lowercase ones itself, the only spelling wget reads.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy")
# wget disables HSTS for a database anyone can write (src/main.c): 0644.
HSTS_FILE_MODE = 0o644
# A preloaded entry never expires within a run: ten years long, created a
# minute ago (so no step waits for a later second on its account).
PRELOAD_MAX_AGE_S = 10 * 365 * 24 * 3600
# The line wget logs before each request it makes (src/retr.c
# retrieve_url / src/http.c http_loop: "--%s--  %s\n", time and URL).
REQUEST_LINE = re.compile(rb"^--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d--  (.*)$")
# -S (--server-response) prints each response's head indented by two spaces.
RESPONSE_LINE = re.compile(rb"^  (HTTP/\d(?:\.\d)? (\d{3})(?: .*)?)$")
HEADER_LINE = re.compile(rb"^  ([^ :][^:]*):(.*)$")
# wget's exit status 8: "Server issued an error response" (man wget, EXIT
# STATUS): a 4xx/5xx, or a redirect wget did not follow; the response is
# wget's answer, not a transfer error.
EXIT_SERVER_ERROR = 8
# What wget logs when a chain is longer than --max-redirect (src/retr.c
# retrieve_url: "%d redirections exceeded.").
REDIRECTS_EXCEEDED = b" redirections exceeded."
# time(2), which wget reads, may lag the clock Python reads by a tick (the
# coarse real-time clock), so a wait for the next second waits this much more.
COARSE_CLOCK_MARGIN_S = 0.05
# What the driver keeps in hand below the case's time limit, so a wget that
# is still waiting is stopped by its own --timeout before the harness kills
# this driver.
MARGIN_S = 2.0


def wget_environment(state_dir, proxy):
    """The caller's environment without proxy settings or wgetrc, HOME in the
    state folder, the listener as the proxy for every scheme wget proxies."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env.pop("WGETRC", None)
    env.pop("SYSTEM_WGETRC", None)
    env["HOME"] = state_dir
    # English messages (the driver reads wget's log) in a UTF-8 locale, as a
    # typical terminal has: wget's IRI support encodes URLs from it.
    env["LC_ALL"] = "C.UTF-8"
    for variable in ("http_proxy", "https_proxy", "ftp_proxy"):
        env[variable] = proxy
    return env


def write_preload(path, preload):
    """wget's HSTS database (src/hsts.c hsts_read_database): per line
    `host port include_subdomains created max_age`; port 0 is the scheme's
    default. Always written, with mode 0644, so every plan starts fresh."""
    created = int(time.time()) - 60
    with open(path, "w", encoding="utf-8") as f:
        f.write("# HSTS preload written by the hopcheck wget driver\n")
        for entry in preload:
            host = entry["host"].rstrip(".").lower()
            subdomains = 1 if entry.get("include_subdomains") else 0
            f.write(f"{host}\t0\t{subdomains}\t{created}\t{PRELOAD_MAX_AGE_S}\n")
    os.chmod(path, HSTS_FILE_MODE)


def method_arguments(method, body, body_file):
    """What wget's manual tells a user to write for this method and body:
    --post-file for POST, --method (with --body-file for a body) otherwise."""
    if method == "GET" and not body:
        return []
    if method == "POST":
        return ["--post-file=" + body_file]
    args = ["--method=" + method]
    if body:
        args.append("--body-file=" + body_file)
    return args


def header_arguments(headers):
    # `--header=Name: value`; wget replaces its own header of that name.
    return [f"--header={name}: {value}" for name, value in headers]


def read_log(log):
    """The URLs wget requested and the response heads it printed (-S), in order."""
    urls, responses = [], []
    current = None
    for line in log.split(b"\n"):
        line = line.rstrip(b"\r")
        request = REQUEST_LINE.match(line)
        if request:
            urls.append(request.group(1))
            current = None
            continue
        response = RESPONSE_LINE.match(line)
        if response:
            current = {"status": int(response.group(2)), "headers": []}
            responses.append(current)
            continue
        header = HEADER_LINE.match(line)
        if header and current is not None:
            current["headers"].append([text(header.group(1)), text(header.group(2).strip())])
            continue
        current = None
    return urls, responses


def error_message(log):
    """wget's own words for a failed transfer: its last non-progress lines."""
    lines = [text(line).strip() for line in log.split(b"\n")]
    lines = [line for line in lines if line and not line.startswith("--") and not line.startswith("  ")]
    return " / ".join(lines[-3:])


def hsts_entries(path):
    """The entries of wget's HSTS database, as lines."""
    return [line for line in text(read(path)).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def wait_for_a_later_second(path):
    """Start wget in a later wall-clock second than any entry of its HSTS
    database was created. wget keeps times in whole seconds and skips an
    update of a Known HSTS Host that arrives in the second the entry was
    created (src/hsts.c hsts_store_entry: `t != entry->created`); without
    this wait, whether step 2 updates what step 1 noted would depend on
    where a second boundary falls. A user typing one command after another
    is never faster than this."""
    created = []
    for line in hsts_entries(path):
        fields = line.split()
        if len(fields) == 5 and fields[3].isdigit():
            created.append(int(fields[3]))
    if not created:
        return
    wait = max(created) + 1 + COARSE_CLOCK_MARGIN_S - time.time()
    if wait > 0:
        time.sleep(wait)


def log_hsts_database(path):
    """What wget left in its HSTS database, for the transcript."""
    entries = hsts_entries(path)
    log("hsts database: " + ("; ".join(entries) if entries else "(empty)"))


class WgetRuns(CommandLineRuns):
    """wget's runs for one plan: its HSTS database in the plan's state
    folder, written (preloaded) before the first step; the plan's proxy for
    every scheme wget proxies."""

    def __init__(self, plan):
        super().__init__(WGET, plan, wget_environment(plan.state_dir, plan.proxy))
        self.hsts_file = os.path.join(plan.state_dir, "wget-hsts")
        write_preload(self.hsts_file, plan.preload)

    def run_step(self, plan, step):
        if step.streamed:
            raise DriverFault("wget has no streamed (non-replayable) request body; the target declares `streamed-body` unsupported")
        self.prepare(step)

        wait_for_a_later_second(self.hsts_file)
        budget = plan.deadline - time.monotonic() - MARGIN_S
        if budget < 1:
            raise DriverFault(f"no time left for wget within the case's time limit ({plan.timeout_ms} ms)")

        args = [WGET, "--no-config", "--server-response", "--tries=1", f"--timeout={budget:.1f}"]
        args += ["--ca-certificate=" + plan.ca_file, "--hsts-file=" + self.hsts_file]
        args += ["--content-on-error", "-O", self.output_file]
        if not step.follow:
            args.append("--max-redirect=0")
        if step.insecure:
            args.append("--no-check-certificate")
        args += header_arguments(step.headers)
        args += method_arguments(step.method, step.body, self.body_file)
        args.append(step.url)

        done = self.run(args, timeout=budget + MARGIN_S / 2)
        wget_log = done.stderr
        if wget_log.strip():
            log(text(wget_log).rstrip())
        log_hsts_database(self.hsts_file)
        urls, responses = read_log(wget_log)

        if done.returncode not in (0, EXIT_SERVER_ERROR) or not responses:
            # wget reports a transfer error: the client's own answer, judged.
            raise ClientError(f"wget exit {done.returncode}: {error_message(wget_log)}".strip())
        if not urls:
            raise DriverFault("wget printed a response but no request line with its URL")
        last = responses[-1]
        if step.follow and REDIRECTS_EXCEEDED in wget_log:
            # wget gave up on the chain (src/retr.c retrieve_url: more than
            # --max-redirect, 20 by default): its error, not a final response.
            raise ClientError(f"wget exit {done.returncode}: {error_message(wget_log)}".strip())
        return self.response(step, last["status"], url_text(urls[-1]), last["headers"])


if __name__ == "__main__":
    serve(WgetRuns)
