#!/usr/bin/env python3
"""hopcheck driver for httpx: one persistent process, a fresh `httpx.Client`
per plan, each step one `client.request(...)` call the way httpx's
documentation shows it (https://www.python-httpx.org/advanced/clients/).

The listener is reached as the proxy in HTTP_PROXY/HTTPS_PROXY (httpx reads
them because `trust_env=True`, its default); the run's CA is trusted with
`verify=ssl.create_default_context(cafile=CA_FILE)` and `verify=False` for an
insecure step. The protocol (plan lines in, answer lines out, step `error`
versus `driver_error`) is in ../python-common/driver_protocol.py.
"""

import ssl
import sys
from pathlib import Path

import h11
import httpcore
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from driver_protocol import ClientError, log, plan_environment, response, serve, text

# What httpx (and the httpcore and h11 under it) raise when the transfer fails
# or a URL or Location it was given cannot be used: the client's answer,
# judged by the case. Any other exception out of the request is a fault of
# this driver.
CLIENT_ERRORS = (
    httpx.HTTPError,  # TransportError, TooManyRedirects, DecodingError...
    httpx.InvalidURL,
    httpx.StreamError,  # StreamConsumed: a generator body cannot be resent
    httpcore.ConnectionNotAvailable,
    h11.ProtocolError,
    OSError,
    ValueError,  # also UnicodeError (an IDNA host httpx cannot encode)
)


def streamed(body):
    """A one-shot iterator of bytes: httpx sends it chunked and cannot rewind
    it (httpx docs, quickstart, "Sending Binary Request Data": content= takes
    a bytes iterator). Not a generator: on a 307/308 httpx raises
    StreamConsumed for a spent generator only after hop 2's headers are on
    the wire (IteratorByteStream.__iter__, httpx/_content.py), so whether the
    listener sees that hop is a race; a spent iterator that is no generator
    is resent empty, every time."""
    return iter((body,))


class HttpxClient:
    """A fresh `httpx.Client` for one plan: no cookie or connection pool
    shared with another plan. `verify` belongs to the client in httpx 0.28,
    so an insecure step gets a second client of its own, sharing the plan's
    cookie jar, as a user would write it."""

    def __init__(self, plan):
        plan_environment(plan)
        self.ca = ssl.create_default_context(cafile=plan.ca_file)
        self.clients = {}
        self.cookies = httpx.Cookies()

    def client(self, insecure):
        if insecure not in self.clients:
            self.clients[insecure] = httpx.Client(
                verify=False if insecure else self.ca,
                trust_env=True,
                cookies=self.cookies,
            )
        return self.clients[insecure]

    def run_step(self, plan, step):
        content = streamed(step.body) if step.streamed else (step.body or None)
        timeout = plan.remaining_seconds()
        log(f"client.request({step.method!r}, {step.url!r}, follow_redirects={step.follow}, insecure={step.insecure}, streamed={step.streamed})")
        client = self.client(step.insecure)
        try:
            reply = client.request(
                step.method,
                step.url,
                # A list of pairs keeps a name the step gives twice as two
                # fields (httpx.Headers takes a list of pairs).
                headers=step.headers,
                content=content,
                follow_redirects=step.follow,
                timeout=timeout,
            )
            # The body is read in full inside request(); `content` is it
            # decoded as a user sees it (gzip, deflate).
            body = reply.content
        except CLIENT_ERRORS as e:
            raise ClientError.raised(e) from None
        # Cookies the server set land in the client's jar; keep them for the
        # plan's other client.
        self.cookies.update(client.cookies)
        # `headers.raw`: the final response's fields as received, in order,
        # a repeated field once per line.
        headers = [(text(name), text(value)) for name, value in reply.headers.raw]
        return response(reply.status_code, str(reply.url), headers, body)

    def close(self):
        for client in self.clients.values():
            client.close()


if __name__ == "__main__":
    serve(HttpxClient)
