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
// Protocol: one JSON plan per line on stdin, one JSON answer per line on
// stdout (see harness/src/targets/mod.rs; bodies in base64). Plans are
// handled one at a time. Each answer echoes the plan's `id`; the plan's
// `timeout_ms` (the case's time limit) bounds the plan: fetch is aborted a
// little before it, and a step still running then is a `driver_error`.
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
import { createInterface } from 'node:readline'

const require = createRequire(import.meta.url)

if (process.argv[2] === '--version') {
  const { version } = require('undici/package.json')
  process.stdout.write(`undici ${version} (Node ${process.version})\n`)
  process.exit(0)
}

const { Agent, buildConnector, fetch, setGlobalDispatcher } = await import('undici')

// The dispatcher below uses no proxy; proxy settings in the environment are
// removed all the same, so nothing this process starts or loads reads them.
for (const name of Object.keys(process.env)) {
  if (['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'].includes(name.toLowerCase())) {
    delete process.env[name]
  }
}

/** A fault of this driver, reported as the step's `driver_error`. */
class DriverFault extends Error {}

/** How long before the case's time limit fetch is stopped, so the answer
 * still arrives in time: a tenth of the limit, at most one second. */
function margin (timeoutMs) {
  return Math.min(1000, Math.floor(timeoutMs / 10))
}

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

/** `127.0.0.1:PORT` (or `[::1]:PORT`) as the address and port to dial. */
function listener (connectTo) {
  const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(connectTo)
  if (!match) throw new DriverFault(`connect_to is not ADDRESS:PORT: ${connectTo}`)
  return [match[1], Number(match[2])]
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
  for (let e = error, depth = 0; e != null && depth < 5; e = e.cause, depth++) {
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

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function runStep (step, dispatchers, signal, timedOut) {
  if (step.delay_ms) await sleep(step.delay_ms)
  if (timedOut()) throw new DriverFault('the case\'s time limit was spent before the step started')
  const init = {
    method: step.method,
    headers: step.headers,
    redirect: step.follow ? 'follow' : 'manual',
    signal
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
    if (timedOut()) {
      throw new DriverFault(`fetch was still running at the case's time limit: ${describe(error)}`)
    }
    log(`rejected: ${describe(error)}`)
    return { error: describe(error) }
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

async function answer (plan) {
  const started = performance.now()
  const timeoutMs = plan.timeout_ms ?? 30000
  const controller = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    controller.abort(new Error(`the driver stopped fetch ${margin(timeoutMs)} ms before the case's time limit of ${timeoutMs} ms`))
  }, Math.max(timeoutMs - margin(timeoutMs), 1))
  const ca = readFileSync(plan.ca_file)
  const secure = dispatcherFor(plan, ca, false)
  let insecure = null
  const dispatchers = {
    insecure: () => (insecure ??= dispatcherFor(plan, ca, true))
  }
  setGlobalDispatcher(secure)
  const steps = []
  try {
    for (const step of plan.steps) {
      try {
        steps.push(await runStep(step, dispatchers, controller.signal, () => expired))
      } catch (error) {
        const message = error instanceof DriverFault ? error.message : `${describe(error)}\n${error?.stack ?? ''}`
        steps.push({ driver_error: message })
      }
    }
  } finally {
    clearTimeout(timer)
    // No connection outlives its plan.
    await Promise.all([secure.destroy(), insecure?.destroy()])
  }
  const unsupported = plan.preload?.length ? ['hsts-preload'] : []
  log(`plan ${plan.id} answered in ${Math.round(performance.now() - started)} ms`)
  return { id: plan.id, steps, unsupported }
}

function log (message) {
  process.stderr.write(message + '\n')
}

function planId (line) {
  try {
    return JSON.parse(line).id ?? null
  } catch {
    return null
  }
}

process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${describe(reason)}`))

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue
  let reply
  try {
    reply = await answer(JSON.parse(line))
  } catch (error) {
    log(`driver error: cannot handle the plan line: ${describe(error)}`)
    reply = { id: planId(line), driver_error: `cannot handle the plan: ${describe(error)}` }
  }
  process.stdout.write(JSON.stringify(reply) + '\n')
}
