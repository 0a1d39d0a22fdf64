"""What the drivers of command-line clients (curl, wget) share on top of
driver_protocol: one run of the client per step, in a scratch folder of the
plan's state_dir (which the harness removes, so a killed driver leaves
nothing behind), with the command line logged to stderr and the run bounded
by the case's time limit. Python standard library only.
"""

import os
import shlex
import subprocess
import urllib.parse

from driver_protocol import DriverFault, log, response


def url_text(raw):
    """A URL the client wrote as raw bytes: UTF-8 when it is, else the bytes
    that are not percent-encoded (a URL is ASCII on the wire)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return urllib.parse.quote(raw, safe=bytes(range(0x21, 0x7F)))


def read(path):
    """A file's bytes; none for a file the client did not write."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


class CommandLineRuns:
    """The runs of one command-line client for one plan. A driver subclasses
    it with `run_step(plan, step)` and hands the subclass to `serve`."""

    def __init__(self, program, plan, env):
        self.program = program
        self.plan = plan
        self.env = env
        self.scratch = os.path.join(plan.state_dir, f"{program}-scratch")
        os.makedirs(self.scratch, exist_ok=True)
        # The step's request body, for the client to read from a file.
        self.body_file = os.path.join(self.scratch, "request-body")
        # Where the client writes the final response's body.
        self.output_file = os.path.join(self.scratch, "response-body")

    def prepare(self, step, *outputs):
        """Write the step's body to `body_file` and remove what an earlier
        step's run left in `output_file` and the other `outputs`."""
        with open(self.body_file, "wb") as f:
            f.write(step.body)
        for stale in (self.output_file, *outputs):
            if os.path.exists(stale):
                os.remove(stale)

    def run(self, args, timeout):
        """Run the client's command line in the scratch folder, without
        stdin. The harness kills the driver at the case's time limit, and a
        client still running then would only be killed with it: a run past
        `timeout` seconds is a `DriverFault`."""
        log("$ " + shlex.join(args))
        try:
            return subprocess.run(args, env=self.env, cwd=self.scratch, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriverFault(f"{self.program} was still running at the case's time limit ({self.plan.timeout_ms} ms)") from None

    def response(self, step, status, url, headers):
        """The step's result, the body read from `output_file` (none for
        HEAD: whatever the client wrote there is not a response body)."""
        body = b"" if step.method == "HEAD" else read(self.output_file)
        return response(status, url, headers, body)

    def close(self):
        """Nothing outlives a run; the harness removes the state folder."""
