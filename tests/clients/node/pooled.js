#!/usr/bin/env node
// node-postgres through softdel in front of a transaction pooler that gives
// every client the same server connection (tests/integration/rollout/pooled.rs).
//
// Usage: node tests/clients/node/pooled.js POSTGRES_URL
//
// Two clients, a and b. Prints one line per step, what node-postgres
// returned or the error's SQLSTATE, for the test to compare; exits 0 unless
// something unexpected broke.
'use strict'

const pg = require('pg')

const QUERY = 'SELECT id FROM orders WHERE id IN ($1, $2) ORDER BY id'

async function step(what, client, query, values) {
  try {
    const res = await client.query(query, values)
    const rows = res.fields.length ? JSON.stringify(res.rows.map((r) => r.id)) : 'null'
    console.log(`${what}: ${res.command} ${res.rowCount} ${rows}`)
  } catch (err) {
    console.log(`${what}: ${err.code} ${err.message}`)
  }
}

async function main() {
  const url = process.argv[2]
  const client = async (name) => {
    const c = new pg.Client({ connectionString: url, application_name: name })
    await c.connect()
    return c
  }
  const a = await client('node-a')
  const b = await client('node-b')
  const pid = 'SELECT pg_backend_pid() AS pid'
  const [pa, pb] = [(await a.query(pid)).rows[0].pid, (await b.query(pid)).rows[0].pid]
  console.log(`one server connection: ${pa === pb}`)

  // Parameters: the extended protocol, with the unnamed statement.
  await step('a deletes 16', a, 'DELETE FROM orders WHERE id = $1', [16])
  await step('b reads', b, QUERY, [16, 17])
  await step('a shows deleted', a, 'SET softdel.show_deleted = on')
  await step('a reads', a, QUERY, [16, 17])
  await step('b reads', b, QUERY, [16, 17])

  // A named statement is prepared once per client, under the name given.
  const named = { name: 'orders-by-id', text: QUERY, values: [16, 17] }
  await step('a prepares', a, named)
  await step('b prepares', b, named)
  await step('a prepared', a, named)
  await a.end()
  await b.end()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
