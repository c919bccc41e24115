#!/usr/bin/env node
// Soft deletes through softdel with node-postgres, against the shop database
// of tests/integration/softdelete/shop.rs (orders soft, refunds journal,
// audit_logs block, orders limited to 10 rows per DELETE).
//
// Usage: node tests/clients/node/soft_delete.js URL
// Prints "ok - <what>" per check; exits 1 on the first failure.
'use strict'

const { Client } = require('pg')

function check(what, cond, detail) {
  if (!cond) {
    process.stderr.write(`not ok - ${what} ${detail === undefined ? '' : JSON.stringify(detail)}\n`)
    process.exit(1)
  }
  console.log(`ok - ${what}`)
}

async function sqlstate(promise) {
  try {
    await promise
    return null
  } catch (e) {
    return e.code
  }
}

async function main() {
  const client = new Client({ connectionString: process.argv[2] })
  await client.connect()

  let r = await client.query('DELETE FROM orders WHERE id = $1', [1])
  check('command and rowCount of a soft delete', r.command === 'DELETE' && r.rowCount === 1, [r.command, r.rowCount])
  r = await client.query('DELETE FROM orders WHERE id = 2')
  check('simple protocol too', r.command === 'DELETE' && r.rowCount === 1, [r.command, r.rowCount])

  r = await client.query('DELETE FROM orders WHERE id = ANY($1) RETURNING id, note', [[3, 4]])
  check('RETURNING fields', JSON.stringify(r.fields.map((f) => f.name)) === '["id","note"]', r.fields.map((f) => f.name))
  check('RETURNING rows', JSON.stringify(r.rows.map((x) => x.id).sort()) === '[3,4]', r.rows)

  for (const id of [5, 6]) {
    r = await client.query({ name: 'del', text: 'DELETE FROM orders WHERE id = $1', values: [id] })
    check(`named prepared delete ${id}`, r.rowCount === 1, r.rowCount)
  }
  r = await client.query({ name: 'ret', text: 'DELETE FROM refunds WHERE id = $1 RETURNING amount', values: [3] })
  check('named prepared RETURNING', r.rows.length === 1 && r.rows[0].amount === 30, r.rows)

  check('block table refused with SD001', (await sqlstate(client.query('DELETE FROM audit_logs WHERE id = $1', [1]))) === 'SD001')
  check('row limit refused with SD002', (await sqlstate(client.query('DELETE FROM orders'))) === 'SD002')

  await client.query('BEGIN')
  await client.query('DELETE FROM orders WHERE id = 9')
  check('drop refused with SD003', (await sqlstate(client.query('DROP TABLE orders'))) === 'SD003')
  check('the transaction is aborted', (await sqlstate(client.query('SELECT 1'))) === '25P02')
  await client.query('ROLLBACK')
  r = await client.query('SELECT is_active FROM orders WHERE id = 9')
  check('the rolled-back soft delete left the row live', r.rows[0].is_active === true)

  await client.end()
  console.log('node-postgres soft delete: all checks passed')
}

main().catch((e) => {
  process.stderr.write(`not ok - ${e.stack}\n`)
  process.exit(1)
})
