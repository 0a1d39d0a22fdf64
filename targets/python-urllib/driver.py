#!/usr/bin/env python3
"""hopcheck driver for urllib.request, Python's standard library HTTP
client: one persistent process, a fresh cookie jar per plan, each step one
`opener.open(request, timeout=...)` call on an opener made with
`urllib.request.build_opener` the way its documentation shows it
(https://docs.python.org/3/library/urllib.request.html).

The listener is reached as the proxy in HTTP_PROXY/HTTPS_PROXY, read by
`ProxyHandler()` without arguments; the run's CA is trusted with
`HTTPSHandler(context=ssl.create_default_context(cafile=CA_FILE))`, and a
context that checks nothing for an insecure step. The protocol (plan lines
in, answer lines out, step `error` versus `driver_error`) is in
../python-common/driver_protocol.py.
"""

import http.client
import http.cookiejar
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from driver_protocol import ClientError, header_text, log, merged_headers, plan_environment, response, serve

# What urllib.request (and the http.client under it) raise when the transfer
# fails or a URL or Location it was given cannot be used: the client's
# answer, judged by the case. urllib.error.HTTPError is not among them: it is
# the response of a status urllib does not handle (a 3xx it does not follow,
# a 4xx, a 5xx), which users read as one (the docs: "can also function as a
# non-exceptional file-like return value"). Any other exception is a fault
# of this driver.
CLIENT_ERRORS = (
    urllib.error.URLError,  # connection refused, TLS failure, unknown scheme...
    http.client.HTTPException,
    OSError,
    ValueError,  # also UnicodeError (an IDNA host http.client cannot encode)
    # http.client's putrequest asserts that a Host holding `%` is an IPv6
    # literal (_strip_ipv6_iface); the assertion is what the user's call raises.
    AssertionError,
)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """For a step that does not follow redirects: `redirect_request` returning
    None hands the 3xx to the default error handler, which raises it as an
    HTTPError (the documented way, HTTPRedirectHandler.redirect_request)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def streamed(body):
    """A generator body: urllib sends an iterable without Content-Length
    chunked (urllib.request.Request, `data`) and cannot rewind it."""
    yield body


class UrllibClient:
    """A fresh cookie jar for one plan; urllib keeps no connection between
    requests (each sends `Connection: close`), so an opener per step with
    the plan's jar shares nothing with another plan."""

    def __init__(self, plan):
        plan_environment(plan)
        self.cookies = http.cookiejar.CookieJar()
        self.ca = ssl.create_default_context(cafile=plan.ca_file)

    def opener(self, step):
        handlers = [
            urllib.request.ProxyHandler(),  # the proxy variables
            urllib.request.HTTPSHandler(context=unchecked_context() if step.insecure else self.ca),
            urllib.request.HTTPCookieProcessor(self.cookies),
        ]
        if not step.follow:
            handlers.append(NoRedirect())
        return urllib.request.build_opener(*handlers)

    def run_step(self, plan, step):
        if step.streamed:
            data = streamed(step.body)
        else:
            data = step.body or None
        request = urllib.request.Request(step.url, data=data, headers=merged_headers(step.headers), method=step.method)
        timeout = plan.remaining_seconds()
        log(f"opener.open(Request({step.method!r}, {step.url!r}), follow={step.follow}, insecure={step.insecure}, streamed={step.streamed})")
        try:
            try:
                reply = self.opener(step).open(request, timeout=timeout)
            except urllib.error.HTTPError as e:
                reply = e  # a response urllib does not handle itself
            with reply:
                body = reply.read()
                status = reply.status if reply.status is not None else reply.code
                url = reply.geturl()
                headers = [(header_text(name), header_text(value)) for name, value in reply.headers.items()]
        except CLIENT_ERRORS as e:
            raise ClientError.raised(e) from None
        return response(status, url, headers, body)

    def close(self):
        self.cookies.clear()


def unchecked_context():
    """For an insecure step only: made when one comes, since a default
    context loads the system's CA store, which costs more than a request."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


if __name__ == "__main__":
    serve(UrllibClient)
