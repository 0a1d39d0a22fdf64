// hopcheck driver for axios on Node, called as axios's documentation shows:
// `axios.request(config)` with the library's defaults, so redirects are
// followed by follow-redirects (axios's Node adapter hands every request
// with `maxRedirects` other than 0 to it) with its default limit of 21 and
// no `beforeRedirect` of the driver's own.
//
// Routing is connect-to: the config's `httpAgent` and `httpsAgent` are Node
// agents whose `createConnection` dials the plan's listener, while `Host`,
// SNI and the certificate check keep the URL's host; `proxy: false` keeps
// axios from reading proxy settings from the environment.
//
// Protocol: ../node-common/driver_protocol.mjs reads the plans, keeps each
// plan's deadline (axios is aborted a little before it, and a step still
// running then is a `driver_error`) and writes the answers; this file is
// axios's part of it.
//
// Each plan gets new agents (so no connection or TLS session is reused
// between plans) that trust only the plan's CA file; they are destroyed
// when the plan ends. axios keeps no cookies, HSTS or cache, so nothing is
// written to the plan's state_dir.
//
// A step's `error` is axios rejecting (an AxiosError: a network error, a TLS
// failure, too many redirects): the case judges it. A fault of this driver
// (an exception of its own, the time limit) is the step's `driver_error`, or
// the answer's top-level `driver_error` when the plan itself cannot be
// handled; the harness makes those cases `error`.
//
// `node driver.mjs --version` prints the client's version line.

import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import { Readable } from 'node:stream'
import tls from 'node:tls'
import { causes, listener, log, removeProxySettings, serve } from '../node-common/driver_protocol.mjs'

const require = createRequire(import.meta.url)

if (process.argv[2] === '--version') {
  const { version } = require('axios/package.json')
  const followRedirects = require('follow-redirects/package.json').version
  process.stdout.write(`axios ${version} (follow-redirects ${followRedirects}, Node ${process.version})\n`)
  process.exit(0)
}

// Proxy settings in the environment are removed before axios is loaded:
// `proxy: false` already makes axios ignore them, and nothing else may read them.
removeProxySettings()

const { default: axios } = await import('axios')

/** The options of Node's own global agents (`http.globalAgent` since Node
 * 19: keep-alive, LIFO scheduling, idle sockets closed after 5 s), which an
 * axios call without agents of its own would use. */
const GLOBAL_AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5000 }

/** An http.Agent that dials the listener for every origin. Node's Agent
 * has already set the request's `Host` from the URL; only the socket's
 * address and port change. */
class ListenerHttpAgent extends http.Agent {
  constructor (address, port) {
    super(GLOBAL_AGENT_OPTIONS)
    this.listener = { address, port }
  }

  createConnection (options, callback) {
    return super.createConnection({ ...options, host: this.listener.address, port: this.listener.port }, callback)
  }
}

/** An https.Agent that dials the listener for every origin. SNI is the
 * `servername` Node's Agent derived from the URL's host (createSocket, before
 * this is called); the certificate is checked against that host too. For an
 * IP-literal host Node sends no SNI, so the check names the host explicitly. */
class ListenerHttpsAgent extends https.Agent {
  constructor (address, port, tlsOptions) {
    super({ ...GLOBAL_AGENT_OPTIONS, ...tlsOptions })
    this.listener = { address, port }
  }

  createConnection (options, callback) {
    const host = options.host
    const dial = { ...options, host: this.listener.address, port: this.listener.port }
    if (!dial.servername) {
      dial.checkServerIdentity = (_, cert) => tls.checkServerIdentity(host, cert)
    }
    return super.createConnection(dial, callback)
  }
}

/** The plan's agents: `ca` makes the run's CA the only one trusted; an
 * insecure pair (`rejectUnauthorized: false`) only when a step asks. */
function agentsFor (plan) {
  const ca = readFileSync(plan.ca_file)
  const [address, port] = listener(plan.connect_to)
  const made = []
  const make = (insecure) => {
    const pair = {
      httpAgent: new ListenerHttpAgent(address, port),
      httpsAgent: new ListenerHttpsAgent(address, port, insecure ? { ca, rejectUnauthorized: false } : { ca })
    }
    made.push(pair)
    return pair
  }
  const secure = make(false)
  let insecure = null
  return {
    for: (step) => step.insecure ? (insecure ??= make(true)) : secure,
    close: () => {
      for (const pair of made) {
        pair.httpAgent.destroy()
        pair.httpsAgent.destroy()
      }
    }
  }
}

/** The step's headers as an axios `headers` object: names compared without
 * case (the first spelling kept), repeated names as an array, which Node
 * sends as one field line each. */
function requestHeaders (step) {
  const headers = {}
  const spelling = new Map()
  for (const [name, value] of step.headers) {
    const key = name.toLowerCase()
    if (!spelling.has(key)) {
      spelling.set(key, name)
      headers[name] = value
    } else {
      const first = spelling.get(key)
      headers[first] = [].concat(headers[first], value)
    }
  }
  return headers
}

/** The request body: a Buffer, or a Readable stream when the step asks for
 * one that cannot be replayed from the caller's side (follow-redirects still
 * buffers what it writes, to send again after a 307/308). */
function requestBody (step) {
  const bytes = Buffer.from(step.body, 'base64')
  if (step.streamed) return Readable.from(bytes.length ? [bytes] : [])
  return bytes.length ? bytes : undefined
}

/** What axios rejected with, its code and causes included: `AxiosError
 * [ECONNREFUSED]: connect ECONNREFUSED ...`. axios often wraps an error
 * whose text is its own (follow-redirects' errors, named `Error [CODE]`):
 * a cause that reads the same as the line before it is left out. */
function describe (error) {
  const parts = []
  for (const e of causes(error)) {
    let part
    if (e instanceof Error) {
      const code = e.code && !e.name.includes(e.code) ? ` [${e.code}]` : ''
      part = `${e.name}${code}: ${e.message || '(no message)'}`
    } else {
      part = String(e)
    }
    if (part !== parts.at(-1)) parts.push(part)
  }
  return parts.join(': ')
}

/** The response's fields as axios shows them (Node's `res.headers`:
 * names lowercased, repeated fields joined with ", ", Set-Cookie an array,
 * some single-valued fields such as Location keeping only the first). */
function responseHeaders (headers) {
  const list = []
  for (const [name, value] of Object.entries(headers.toJSON())) {
    for (const one of [].concat(value)) list.push([name, String(one)])
  }
  return list
}

async function runStep (step, agents, call) {
  const config = {
    method: step.method,
    url: step.url,
    headers: requestHeaders(step),
    // Every status is a response to report, not a rejection.
    validateStatus: () => true,
    responseType: 'arraybuffer',
    proxy: false,
    signal: call.signal,
    ...agents.for(step)
  }
  const data = requestBody(step)
  if (data !== undefined) config.data = data
  // axios's switch for "do not follow": the Node adapter then uses Node's
  // http/https directly. Otherwise axios's defaults apply (follow-redirects).
  if (!step.follow) config.maxRedirects = 0
  log(`axios ${step.method} ${step.url}${step.follow ? '' : ' maxRedirects=0'}${step.streamed ? ' streamed' : ''}${step.insecure ? ' insecure' : ''}`)
  let response
  try {
    response = await axios.request(config)
  } catch (error) {
    return call.rejected(error)
  }
  // The final URL as axios users read it: follow-redirects' `responseUrl`
  // on the last response; without follow-redirects, the URL requested.
  const url = response.request?.res?.responseUrl ?? response.config.url
  log(`${response.status} ${url}`)
  return {
    status: response.status,
    url,
    headers: responseHeaders(response.headers),
    body: Buffer.from(response.data ?? []).toString('base64')
  }
}

await serve({ client: 'axios', describe, openPlan: agentsFor, runStep })
