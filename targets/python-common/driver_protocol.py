"""The hopcheck driver protocol for Python clients, without any client in it.

One JSON plan per line on stdin, one JSON answer per line on stdout (see the
top-level README, "Driver protocol", and harness/src/targets/driver/). A
client's driver gives `serve` a function that runs one step; this module reads
plans, keeps the deadline, sets up the process environment for the plan and
writes the answer echoing the plan's `id`. Python standard library only, so
the drivers of other Python libraries can import it as it is.

Two kinds of failure stay apart:
- `ClientError`: the client reported that the transfer failed (connection
  refused, too many redirects, a TLS failure...). It becomes the step's
  `error`, which the case judges.
- `DriverFault` (and any other exception): the driver itself could not do or
  read something. It becomes the step's `driver_error` (or the answer's, when
  the plan itself cannot be handled), and the case is `error`, never the
  client's `fail`.
"""

import base64
import json
import os
import sys
import time
import traceback

# Every variable a Python HTTP client reads to pick a proxy or skip one
# (urllib.request.getproxies_environment reads `<scheme>_proxy` in both cases).
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy", "ws_proxy", "wss_proxy")
# Variables that point a client at CA files or credentials outside the plan.
TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "NETRC")
# Room left between the client's own deadline and the case's time limit, so
# the client gives up (a step `error` or a `DriverFault`) before the harness
# kills the driver: one second, or a tenth of a shorter limit.
DEADLINE_MARGIN_S = 1.0
DEADLINE_MARGIN_SHARE = 0.1


class DriverFault(Exception):
    """Something the driver cannot do or read: the step's `driver_error`."""


class ClientError(Exception):
    """The client reported a failed transfer: the step's `error`."""

    @classmethod
    def raised(cls, exception):
        """The exception a client raised, named as its users see it: the
        module and type, then its message (`requests.exceptions.TooManyRedirects: ...`)."""
        return cls(f"{type(exception).__module__}.{type(exception).__name__}: {exception}")


class Plan:
    """One plan line, with the deadline its `timeout_ms` sets."""

    def __init__(self, fields):
        self.fields = fields
        self.id = fields["id"]
        self.steps = fields["steps"]
        self.proxy = fields["proxy"]
        self.connect_to = fields["connect_to"]
        self.ca_file = fields["ca_file"]
        self.state_dir = fields["state_dir"]
        self.preload = fields.get("preload", [])
        self.profile = fields.get("profile")
        self.timeout_ms = fields.get("timeout_ms", 30_000)
        self.deadline = time.monotonic() + self.timeout_ms / 1000
        self.margin = min(DEADLINE_MARGIN_S, self.timeout_ms / 1000 * DEADLINE_MARGIN_SHARE)

    def remaining_seconds(self):
        """What is left of the case's time limit, less the margin; a
        `DriverFault` when nothing is."""
        left = self.deadline - time.monotonic() - self.margin
        if left <= 0:
            raise DriverFault(f"the case's time limit ({self.timeout_ms} ms) is spent")
        return left


class Step:
    """One step of a plan, its body decoded."""

    def __init__(self, fields):
        self.method = fields["method"]
        self.url = fields["url"]
        self.headers = [(name, value) for name, value in fields["headers"]]
        self.body = base64.b64decode(fields["body"])
        self.streamed = bool(fields.get("streamed"))
        self.follow = bool(fields.get("follow", True))
        self.delay_ms = fields.get("delay_ms", 0)
        self.insecure = bool(fields.get("insecure"))


def plan_environment(plan, proxy=True):
    """Make the process environment the plan's: no proxy or CA variable of the
    caller, HOME in the plan's state folder (no ~/.netrc, no user config), and
    with `proxy` the plan's proxy in HTTP_PROXY/HTTPS_PROXY and their
    lowercase twins, as a user of an environment-reading client sets them."""
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES or name in TRUST_VARIABLES:
            del os.environ[name]
    os.environ["HOME"] = plan.state_dir
    if proxy:
        for name in ("http_proxy", "https_proxy"):
            os.environ[name] = plan.proxy
            os.environ[name.upper()] = plan.proxy


def text(raw):
    """Bytes as text without guessing an encoding: UTF-8 when they are UTF-8,
    else each byte as the character of the same number (Latin-1), so no byte
    is lost or replaced."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header_text(value):
    """A header name or value the way http.client hands it over (each byte
    decoded as Latin-1), as `text` would read the same bytes."""
    try:
        return text(value.encode("latin-1"))
    except UnicodeEncodeError:
        return value


def merged_headers(pairs):
    """Step headers as the dict a Python client takes as `headers=` (a
    mapping, as its users write it). A name given twice is sent once with its
    values joined by ", " (RFC 9110, 5.3); the first spelling of the name is
    kept."""
    merged = {}
    for name, value in pairs:
        key = next((k for k in merged if k.lower() == name.lower()), name)
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


def response(status, url, headers, body):
    """A step's result: status, final URL, header pairs in order, raw body."""
    return {
        "status": status,
        "url": url,
        "headers": [[name, value] for name, value in headers],
        "body": base64.b64encode(body).decode("ascii"),
    }


def log(message):
    print(message, file=sys.stderr, flush=True)


def answer(plan, client):
    """Run the plan's steps in order with `client`, one result per step."""
    results = []
    for step_fields in plan.steps:
        try:
            step = Step(step_fields)
            if step.delay_ms:
                time.sleep(step.delay_ms / 1000)
            results.append(client.run_step(plan, step))
        except ClientError as e:
            results.append({"error": str(e)})
        except DriverFault as e:
            results.append({"driver_error": str(e)})
        except Exception as e:  # a bug of the driver, never the client's answer
            log(traceback.format_exc())
            results.append({"driver_error": f"{type(e).__name__}: {e}"})
    return {"id": plan.id, "steps": results, "unsupported": []}


def plan_id(line):
    """The plan's id, if the line is readable enough to have one."""
    try:
        return json.loads(line).get("id")
    except Exception:
        return None


def serve(start_plan):
    """Answer plan lines until stdin closes. `start_plan(plan)` returns an
    object for that plan alone (the client's fresh state) with
    `run_step(plan, step)` and `close()`."""
    for line in sys.stdin:
        try:
            fields = json.loads(line)
            plan = Plan(fields)
            client = start_plan(plan)
            try:
                reply = answer(plan, client)
            finally:
                client.close()
        except Exception as e:
            log(f"driver error: cannot handle the plan line: {type(e).__name__}: {e}")
            reply = {"id": plan_id(line), "driver_error": f"cannot handle the plan: {type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
