#!/usr/bin/env python3
"""hopcheck driver for requests: one persistent process, a fresh
`requests.Session` per plan, each step one `session.request(...)` call the
way requests' documentation shows it (https://requests.readthedocs.io/en/latest/user/advanced/).

The listener is reached as the proxy in HTTP_PROXY/HTTPS_PROXY (requests
reads them because `Session.trust_env` is on by default); the run's CA is
trusted with `verify=CA_FILE`, and `verify=False` for an insecure step.
The protocol (plan lines in, answer lines out, step `error` versus
`driver_error`) is in ../python-common/driver_protocol.py, which knows no
client and is shared by every Python target.
"""

import http.client
import sys
from pathlib import Path

import requests
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from driver_protocol import ClientError, DriverFault, header_text, log, merged_headers, plan_environment, response, serve

# What requests (and the urllib3 and http.client under it) raise when the
# transfer fails or a URL or Location it was given cannot be used: the
# client's answer, judged by the case. Any other exception out of the
# request is a fault of this driver.
CLIENT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,  # also UnicodeError (an IDNA host requests cannot encode)
    # http.client's putrequest asserts that a Host holding `%` is an IPv6
    # literal (_strip_ipv6_iface); requests percent-encodes a non-ASCII or
    # space-holding Location host into such a Host, and the assertion is what
    # the user's call raises.
    AssertionError,
)


def streamed(body):
    """A generator body: requests sends it chunked and cannot rewind it
    (requests docs, "Chunk-Encoded Requests")."""
    yield body


class RequestsClient:
    """A fresh `requests.Session` for one plan: no cookie, connection or
    redirect cache shared with another plan."""

    def __init__(self, plan):
        plan_environment(plan)
        self.session = requests.Session()

    def run_step(self, plan, step):
        if step.streamed:
            data = streamed(step.body)
        else:
            # No body is `data=None`, as in `session.post(url)`: requests
            # then sends `Content-Length: 0` for methods other than GET/HEAD.
            data = step.body or None
        timeout = plan.remaining_seconds()
        verify = False if step.insecure else plan.ca_file
        log(f"session.request({step.method!r}, {step.url!r}, allow_redirects={step.follow}, verify={verify!r}, streamed={step.streamed})")
        try:
            reply = self.session.request(
                step.method,
                step.url,
                headers=merged_headers(step.headers),
                data=data,
                allow_redirects=step.follow,
                verify=verify,
                timeout=timeout,
            )
            # The body is read in full inside request() (stream=False); reading
            # `content` here decodes it as a user sees it.
            body = reply.content
        except CLIENT_ERRORS as e:
            raise ClientError.raised(e) from None
        return response(reply.status_code, reply.url, response_headers(reply), body)

    def close(self):
        self.session.close()


def response_headers(reply):
    """The final response's fields as received, in order, a repeated field
    once per line (urllib3's HTTPHeaderDict behind `Response.raw`;
    `Response.headers` joins repeats)."""
    raw = getattr(reply.raw, "headers", None)
    if raw is None:
        raise DriverFault("the response carries no urllib3 headers (reply.raw.headers)")
    return [(header_text(name), header_text(value)) for name, value in raw.items()]


if __name__ == "__main__":
    serve(RequestsClient)
