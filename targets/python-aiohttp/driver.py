#!/usr/bin/env python3
"""hopcheck driver for aiohttp: one persistent process with one event loop,
a fresh `aiohttp.ClientSession(trust_env=True)` per plan, each step one
`session.request(...)` call the way aiohttp's client documentation shows it
(https://docs.aiohttp.org/en/stable/client_quickstart.html,
https://docs.aiohttp.org/en/stable/client_advanced.html).

The listener is reached as the proxy in HTTP_PROXY/HTTPS_PROXY, which
aiohttp reads because the session has `trust_env=True` ("Proxy support" in
aiohttp's advanced client docs); the run's CA is trusted with an
`ssl.SSLContext` loading it, passed as `ssl=`, and `ssl=False` for an
insecure step. The protocol (plan lines in, answer lines out, step `error`
versus `driver_error`) is in ../python-common/driver_protocol.py, shared by
every Python target: it calls `run_step` synchronously, and this driver runs
each step to completion on its one event loop.
"""

import asyncio
import ssl
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from driver_protocol import ClientError, header_text, log, merged_headers, plan_environment, response, serve

# What aiohttp raises when the transfer fails or a URL or Location it was
# given cannot be used: the client's answer, judged by the case. Any other
# exception out of the request is a fault of this driver.
CLIENT_ERRORS = (
    aiohttp.ClientError,  # ClientConnectorError, TooManyRedirects, InvalidURL, ClientSSLError...
    asyncio.TimeoutError,  # the ClientTimeout deadline
    OSError,
    ValueError,  # also UnicodeError (a host yarl cannot encode)
)

# One loop for the process: a session belongs to the loop it was made on,
# and a new loop per plan would cost time for nothing.
LOOP = asyncio.new_event_loop()


async def streamed(body):
    """An async generator body ("Streaming uploads" in aiohttp's docs):
    aiohttp sends it chunked and cannot rewind it."""
    yield body


async def new_session():
    # A ClientSession is made inside a coroutine, as aiohttp asks.
    return aiohttp.ClientSession(trust_env=True)


class AiohttpClient:
    """A fresh `ClientSession` for one plan: no cookie jar or connection
    shared with another plan."""

    def __init__(self, plan):
        plan_environment(plan)
        self.ssl_context = ssl.create_default_context(cafile=plan.ca_file)
        self.session = LOOP.run_until_complete(new_session())

    def run_step(self, plan, step):
        timeout = plan.remaining_seconds()
        log(f"session.request({step.method!r}, {step.url!r}, allow_redirects={step.follow}, insecure={step.insecure}, streamed={step.streamed})")
        try:
            return LOOP.run_until_complete(asyncio.wait_for(self.request(step, timeout), timeout + 0.5))
        except CLIENT_ERRORS as e:
            raise ClientError.raised(e) from None

    async def request(self, step, timeout):
        data = streamed(step.body) if step.streamed else (step.body or None)
        async with self.session.request(
            step.method,
            step.url,
            headers=merged_headers(step.headers),
            data=data,
            allow_redirects=step.follow,
            ssl=False if step.insecure else self.ssl_context,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as reply:
            # read() is the body as aiohttp hands it to users (gzip, deflate
            # decoded); raw_headers are the final response's fields as
            # received, in order, a repeated field once per line.
            body = await reply.read()
            headers = [(header_text(n.decode("latin-1")), header_text(v.decode("latin-1"))) for n, v in reply.raw_headers]
            # real_url keeps the fragment (`url` drops it), aiohttp docs:
            # ClientResponse.real_url.
            return response(reply.status, str(reply.real_url), headers, body)

    def close(self):
        LOOP.run_until_complete(self.session.close())


if __name__ == "__main__":
    serve(AiohttpClient)
