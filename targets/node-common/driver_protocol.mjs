// The hopcheck driver protocol for Node clients, without any client in it.
//
// One JSON plan per line on stdin, one JSON answer per line on stdout (see
// harness/src/targets/mod.rs; bodies in base64). Plans are handled one at a
// time. Each answer echoes the plan's `id`; the plan's `timeout_ms` (the
// case's time limit) bounds the plan: the client is aborted a little before
// it, and a step still running then is a `driver_error`.
//
// A client's driver gives `serve` what is its own: how to describe an error,
// how to open the plan's resources (agents, dispatchers) and how to run one
// step. This module reads plans, keeps the deadline, runs the steps in order
// and writes the answers. Node built-ins only, so every Node target's driver
// imports it as it is, whatever its node_modules hold.
//
// Two kinds of failure stay apart:
// - the client rejecting (a network error, a TLS failure, too many
//   redirects) is the step's `error`, which the case judges;
// - a `DriverFault` (or any other exception of the driver, or the time
//   limit) is the step's `driver_error`, or the answer's top-level
//   `driver_error` when the plan itself cannot be handled; the harness makes
//   those cases `error`, never the client's `fail`.

import { createInterface } from 'node:readline'

/** A fault of the driver, reported as the step's `driver_error`. */
export class DriverFault extends Error {}

/** Removes proxy settings from the environment, so nothing this process
 * starts or loads reads them: the drivers route by connect-to. Call it
 * before the client is loaded. */
export function removeProxySettings () {
  for (const name of Object.keys(process.env)) {
    if (['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'].includes(name.toLowerCase())) {
      delete process.env[name]
    }
  }
}

/** `127.0.0.1:PORT` (or `[::1]:PORT`) as the address and port to dial. */
export function listener (connectTo) {
  const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(connectTo)
  if (!match) throw new DriverFault(`connect_to is not ADDRESS:PORT: ${connectTo}`)
  return [match[1], Number(match[2])]
}

/** The error and its causes, outermost first, at most five deep: what a
 * driver's `describe` reads. */
export function causes (error) {
  const chain = []
  for (let e = error, depth = 0; e != null && depth < 5; e = e.cause, depth++) chain.push(e)
  return chain
}

export function log (message) {
  process.stderr.write(message + '\n')
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** How long before the case's time limit the client is stopped, so the
 * answer still arrives in time: a tenth of the limit, at most one second. */
function margin (timeoutMs) {
  return Math.min(1000, Math.floor(timeoutMs / 10))
}

/** Runs the plan's steps in order, one result per step. */
async function answer (plan, driver) {
  const { client, describe } = driver
  const started = performance.now()
  const timeoutMs = plan.timeout_ms ?? 30000
  const controller = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    controller.abort(new Error(`the driver stopped ${client} ${margin(timeoutMs)} ms before the case's time limit of ${timeoutMs} ms`))
  }, Math.max(timeoutMs - margin(timeoutMs), 1))
  // What a step's `runStep` is given besides the step and the resources.
  const call = {
    signal: controller.signal,
    // The step's result when the client rejected: its `error`, or a
    // DriverFault when the driver's own abort at the time limit caused it.
    rejected (error) {
      if (expired) {
        throw new DriverFault(`${client} was still running at the case's time limit: ${describe(error)}`)
      }
      log(`rejected: ${describe(error)}`)
      return { error: describe(error) }
    }
  }
  const steps = []
  try {
    const resources = driver.openPlan(plan)
    try {
      for (const step of plan.steps) {
        try {
          if (step.delay_ms) await sleep(step.delay_ms)
          if (expired) throw new DriverFault('the case\'s time limit was spent before the step started')
          steps.push(await driver.runStep(step, resources, call))
        } catch (error) {
          const message = error instanceof DriverFault ? error.message : `${describe(error)}\n${error?.stack ?? ''}`
          steps.push({ driver_error: message })
        }
      }
    } finally {
      // No connection outlives its plan.
      await resources.close()
    }
  } finally {
    clearTimeout(timer)
  }
  const unsupported = plan.preload?.length ? ['hsts-preload'] : []
  log(`plan ${plan.id} answered in ${Math.round(performance.now() - started)} ms`)
  return { id: plan.id, steps, unsupported }
}

/** The plan's id, if the line is readable enough to have one. */
function planId (line) {
  try {
    return JSON.parse(line).id ?? null
  } catch {
    return null
  }
}

/**
 * Answers plan lines until stdin closes. `driver` is the client's part:
 * - `client`: its name in messages (`axios`, `fetch`);
 * - `describe(error)`: an error's text, its causes included;
 * - `openPlan(plan)`: the plan's fresh resources, with `close()` (which may
 *   return a promise), called when the plan ends;
 * - `runStep(step, resources, call)`: one step's result; `call.signal`
 *   aborts the client at the plan's deadline, and `call.rejected(error)` is
 *   the result to return when the client rejects.
 */
export async function serve (driver) {
  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${driver.describe(reason)}`))
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue
    let reply
    try {
      reply = await answer(JSON.parse(line), driver)
    } catch (error) {
      log(`driver error: cannot handle the plan line: ${driver.describe(error)}`)
      reply = { id: planId(line), driver_error: `cannot handle the plan: ${driver.describe(error)}` }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  }
}
