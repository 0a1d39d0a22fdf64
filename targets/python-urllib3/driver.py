#!/usr/bin/env python3
"""hopcheck driver for urllib3: one persistent process, a fresh
`urllib3.PoolManager` per plan, each step one `manager.request(...)` call the
way urllib3's user guide shows it (https://urllib3.readthedocs.io/en/stable/user-guide.html).

The listener is reached by connect-to: the manager's connection pools make
connections whose socket dials the plan's `connect_to` address, while the
Host header, SNI and certificate check keep the URL's host. urllib3's
`ProxyManager` is not used: it handles redirects differently from a plain
`PoolManager` (it copies Host from the absolute URL and strips headers on
its own terms), and a typical urllib3 user talks to servers directly.
The run's CA is trusted with `ca_certs=CA_FILE`; an insecure step uses a
manager with `cert_reqs="CERT_NONE"`. The protocol (plan lines in, answer
lines out, step `error` versus `driver_error`) is in
../python-common/driver_protocol.py, shared by every Python target.
"""

import http.client
import socket
import sys
from pathlib import Path
from urllib.parse import urljoin

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
from driver_protocol import ClientError, header_text, log, merged_headers, plan_environment, response, serve

# What urllib3 (and the http.client under it) raises when the transfer fails
# or a URL or Location it was given cannot be used: the client's answer,
# judged by the case. Any other exception out of the request is a fault of
# this driver.
CLIENT_ERRORS = (
    urllib3.exceptions.HTTPError,  # MaxRetryError (too many redirects, refused), SSLError, LocationParseError...
    http.client.HTTPException,
    OSError,
    ValueError,  # also UnicodeError (an IDNA host urllib3 cannot encode)
    # http.client's putrequest asserts that a Host holding `%` is an IPv6
    # literal (_strip_ipv6_iface): the assertion is what the user's call raises.
    AssertionError,
)


def listener_pools(address):
    """`PoolManager.pool_classes_by_scheme` for connect-to: pools whose
    connections dial `address` (host, port) instead of the URL's host and
    port. Only the socket's destination changes: Host, SNI and the
    certificate's name check stay the URL's, as with curl's --connect-to."""

    class DialListener:
        def _new_conn(self):
            # urllib3 2.8.0's HTTPConnection._new_conn, with the address the
            # only change, and the same errors for the same failures.
            try:
                return urllib3_connection.create_connection(
                    address, self.timeout, source_address=self.source_address, socket_options=self.socket_options
                )
            except socket.timeout as e:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from e
            except OSError as e:
                raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e

    class ListenerHTTPConnection(DialListener, HTTPConnection):
        pass

    class ListenerHTTPSConnection(DialListener, HTTPSConnection):
        pass

    class ListenerHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = ListenerHTTPConnection

    class ListenerHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = ListenerHTTPSConnection

    return {"http": ListenerHTTPConnectionPool, "https": ListenerHTTPSConnectionPool}


def listener_address(connect_to):
    host, _, port = connect_to.rpartition(":")
    return (host.strip("[]"), int(port))


def streamed(body):
    """A generator body: urllib3 sends it chunked (it has no length) and
    cannot rewind it."""
    yield body


def final_url(url, reply):
    """The URL urllib3 asked last. `HTTPResponse.url` is only the request
    target (path and query) of a PoolManager request, so the absolute URL
    comes from urllib3's own record of the redirects it followed,
    `Retry.history` (each entry's `url` and `redirect_location`), resolved
    the way PoolManager.urlopen resolves them (urljoin)."""
    hops = [h for h in (reply.retries.history if reply.retries else ()) if h.redirect_location]
    if not hops:
        return url
    return urljoin(hops[-1].url, hops[-1].redirect_location)


class Urllib3Client:
    """A fresh `PoolManager` for one plan (and a second one, made when first
    needed, for insecure steps): no connection shared with another plan."""

    def __init__(self, plan):
        plan_environment(plan, proxy=False)
        self.plan = plan
        self.pools = listener_pools(listener_address(plan.connect_to))
        self.managers = {}

    def manager(self, insecure):
        if insecure not in self.managers:
            if insecure:
                manager = urllib3.PoolManager(cert_reqs="CERT_NONE")
            else:
                manager = urllib3.PoolManager(ca_certs=self.plan.ca_file)
            manager.pool_classes_by_scheme = self.pools
            self.managers[insecure] = manager
        return self.managers[insecure]

    def run_step(self, plan, step):
        body = streamed(step.body) if step.streamed else (step.body or None)
        timeout = urllib3.Timeout(total=plan.remaining_seconds())
        log(f"manager.request({step.method!r}, {step.url!r}, redirect={step.follow}, insecure={step.insecure}, streamed={step.streamed})")
        try:
            reply = self.manager(step.insecure).request(
                step.method,
                step.url,
                headers=merged_headers(step.headers),
                body=body,
                redirect=step.follow,
                timeout=timeout,
            )
            # preload_content (the default) has read the body; `data` is it
            # as urllib3 hands it to users (gzip, deflate... decoded).
            data = reply.data
        except CLIENT_ERRORS as e:
            raise ClientError.raised(e) from None
        headers = [(header_text(name), header_text(value)) for name, value in reply.headers.items()]
        return response(reply.status, final_url(step.url, reply), headers, data)

    def close(self):
        for manager in self.managers.values():
            manager.clear()


if __name__ == "__main__":
    serve(Urllib3Client)
