// hopcheck driver for fetch as Node users call it: `fetch` from the undici
// package (the version pinned in package.json), with undici's Agent, the
// dispatcher a plain `fetch(url)` uses, installed by setGlobalDispatcher for
// each plan. Node 20's own global fetch bundles an older undici, so the
// package's fetch is the one measured.
//
// Routing is connect-to: the Agent dials the plan's listener for every
// origin (see dispatcherFor). Through undici's ProxyAgent/EnvHttpProxyAgent
// fetch takes another path: every request is tunnelled through CONNECT, and
// a caller-set Proxy-Authorization makes the request fail before it is sent.
//
// Protocol: ../node-common/driver_protocol.mjs reads the plans, keeps each
// plan's deadline (fetch is aborted a little before it, and a step still
// running then is a `driver_error`) and writes the answers; this file is
// fetch's part of it.
//
// Each plan gets new dispatchers (so no connection is reused between plans)
// that trust only the plan's CA file; they are destroyed when the plan ends.
// fetch keeps no other state (no cookies, no HSTS, no cache), so nothing is
// written to the plan's state_dir.
//
// A step's `error` is fetch rejecting (a network error, a TypeError for a
// request it refuses to build): the case judges it. A fault of this driver
// (an exception of its own, an answer it cannot build, the time limit) is
// the step's `driver_error`, or the answer's top-level `driver_error` when
// the plan itself cannot be handled; the harness makes those cases `error`.
//
// `node driver.mjs --version` prints the client's version line.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { causes, listener, log, removeProxySettings, serve } from '../node-common/driver_protocol.mjs'

const require = createRequire(import.meta.url)

if (process.argv[2] === '--version') {
  const { version } = require('undici/package.json')
  process.stdout.write(`undici ${version} (Node ${process.version})\n`)
  process.exit(0)
}

// The dispatcher below uses no proxy; proxy settings in the environment are
// removed all the same, so nothing this process starts or loads reads them.
removeProxySettings()

const { Agent, buildConnector, fetch, setGlobalDispatcher } = await import('undici')

/** The dispatcher a plain `fetch(url)` uses, an undici Agent (undici's
 * default global dispatcher is `new Agent()`), told to dial the plan's
 * listener for every origin: its `connect` option builds the connection
 * with undici's own connector, only the address and port replaced. The
 * logical host still names the origin in `Host`, in SNI and in the
 * certificate check (the connector takes the server name from `host`,
 * which is left alone). `ca` makes the run's CA the only one trusted. */
function dispatcherFor (plan, ca, insecure) {
  const connector = buildConnector(insecure ? { ca, rejectUnauthorized: false } : { ca })
  const [address, port] = listener(plan.connect_to)
  return new Agent({
    connect: (options, callback) => connector({ ...options, hostname: address, port }, callback)
  })
}

/** A request body fetch can send again after a 307/308 (bytes), or one it
 * cannot (a ReadableStream, Fetch's body with a null source). */
function requestBody (step) {
  const bytes = Buffer.from(step.body, 'base64')
  if (step.streamed) {
    return new ReadableStream({
      start (controller) {
        if (bytes.length) controller.enqueue(new Uint8Array(bytes))
        controller.close()
      }
    })
  }
  return bytes.length ? bytes : undefined
}

/** What fetch rejected with, its causes included ("fetch failed" alone says
 * nothing): `TypeError: fetch failed: Error [ECONNREFUSED]: connect ...`. */
function describe (error) {
  const parts = []
  for (const e of causes(error)) {
    if (e instanceof Error) {
      const code = e.code ? ` [${e.code}]` : ''
      // Fetch's network errors often carry no message: say so, not ": ".
      parts.push(`${e.name}${code}: ${e.message || '(no message)'}`)
    } else {
      parts.push(String(e))
    }
  }
  return parts.join(': ')
}

async function runStep (step, dispatchers, call) {
  const init = {
    method: step.method,
    headers: step.headers,
    redirect: step.follow ? 'follow' : 'manual',
    signal: call.signal
  }
  const body = requestBody(step)
  if (body !== undefined) init.body = body
  if (step.streamed) init.duplex = 'half'
  // The plan's dispatcher is the global one; an insecure step passes its
  // own, as undici's `dispatcher` option allows per call.
  if (step.insecure) init.dispatcher = dispatchers.insecure()
  log(`fetch ${step.method} ${step.url} redirect=${init.redirect}${step.streamed ? ' streamed' : ''}${step.insecure ? ' insecure' : ''}`)
  let response, content
  try {
    response = await fetch(step.url, init)
    content = Buffer.from(await response.arrayBuffer())
  } catch (error) {
    return call.rejected(error)
  }
  log(`${response.status} ${response.url}`)
  // Headers iterates names lowercased, sorted, values of one name joined
  // with ", ", Set-Cookie one entry each: all fetch shows of the fields.
  const headers = [...response.headers]
  return {
    status: response.status,
    url: response.url,
    headers,
    body: content.toString('base64')
  }
}

/** The plan's dispatchers: its secure one installed as the global
 * dispatcher, the insecure one made only when a step asks for it; both are
 * destroyed when the plan ends. */
function dispatchersFor (plan) {
  const ca = readFileSync(plan.ca_file)
  const secure = dispatcherFor(plan, ca, false)
  let insecure = null
  setGlobalDispatcher(secure)
  return {
    insecure: () => (insecure ??= dispatcherFor(plan, ca, true)),
    close: () => Promise.all([secure.destroy(), insecure?.destroy()])
  }
}

await serve({ client: 'fetch', describe, openPlan: dispatchersFor, runStep })
