#!/usr/bin/env node
// Smoke test of a PostgreSQL server (or a proxy in front of one) with
// node-postgres ("pg").
//
// Usage: node tests/clients/node/pg_smoke.js postgres://user[:pw]@host:port/db
//
// Each check prints "ok - <what>" to stdout. The first failure prints
// "not ok - <what>: <error>" to stderr and exits with status 1. When every
// check passed it prints "node-postgres: N checks passed" and exits 0. A
// watchdog turns any hang into a failure after 60 s (or
// $SMOKE_WATCHDOG_SECONDS). Set SMOKE_TRACEBACK=1 for a stack on failure.
//
// Everything it creates is a temporary table, so nothing is left behind.
'use strict'

const assert = require('assert')

const WATCHDOG_MS = Number(process.env.SMOKE_WATCHDOG_SECONDS || 60) * 1000
const CONNECT_TIMEOUT_MS = 10000
const STATEMENT_TIMEOUT_MS = 15000 // server side, sent in the startup packet
const QUERY_TIMEOUT_MS = 20000 // client side

let checksPassed = 0
let current = 'startup'

function fail(what, err) {
  let detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  if (err && typeof err.code === 'string') {
    detail += /^[0-9A-Z]{5}$/.test(err.code) ? ` (SQLSTATE ${err.code})` : ` (${err.code})`
  }
  if (process.env.SMOKE_TRACEBACK && err && err.stack) process.stderr.write(err.stack + '\n')
  process.stderr.write(`not ok - ${what}: ${detail.replace(/\n/g, ' ')}\n`, () => process.exit(1))
  // in case the write callback never runs
  setTimeout(() => process.exit(1), 500).unref()
}

const watchdog = setTimeout(() => {
  fail(current, `watchdog: no result after ${WATCHDOG_MS / 1000}s (hang?)`)
}, WATCHDOG_MS)

process.on('unhandledRejection', (err) => fail(current, err))
process.on('uncaughtException', (err) => fail(current, err))

async function check(what, fn) {
  current = what
  try {
    await fn()
  } catch (err) {
    fail(what, err)
    // never continue after a failure
    await new Promise(() => {})
  }
  checksPassed++
  process.stdout.write(`ok - ${what}\n`)
}

async function expectError(code, fn) {
  let err = null
  try {
    await fn()
  } catch (e) {
    err = e
  }
  if (!err) throw new Error(`expected SQLSTATE ${code}, got no error`)
  if (err.code !== code) {
    throw new Error(`expected SQLSTATE ${code}, got ${err.code}: ${err.message}`)
  }
  return err
}

function withTimeout(promise, ms, what) {
  let t
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// node-postgres rejects a failed query as soon as ErrorResponse arrives; the
// ReadyForQuery that follows (and carries the transaction status) may come in
// a later read, so wait a little for the status instead of reading it at once.
async function expectTxStatus(client, want) {
  const deadline = Date.now() + 2000
  while (client.getTransactionStatus() !== want && Date.now() < deadline) await sleep(5)
  assert.strictEqual(client.getTransactionStatus(), want, 'transaction status (ReadyForQuery)')
}

async function main() {
  const url = process.argv[2]
  if (!url || process.argv.length !== 3) {
    process.stderr.write('usage: node pg_smoke.js POSTGRES_URL\n')
    process.exit(2)
  }

  let pg
  await check('require pg', async () => {
    pg = require('pg')
  })

  function newClient(extra = {}) {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      ...extra,
    })
    // An 'error' event means the connection broke outside of any query.
    client.on('error', (err) => fail(current, err))
    return client
  }

  // ---------------------------------------------------------------- basics
  const client = newClient({ application_name: 'pg-smoke' })
  await check('connect', async () => {
    await client.connect()
  })

  await check('startup parameters reach the server', async () => {
    const r = await client.query('SHOW application_name')
    assert.strictEqual(r.rows[0].application_name, 'pg-smoke')
    const t = await client.query('SHOW statement_timeout')
    assert.strictEqual(t.rows[0].statement_timeout, `${STATEMENT_TIMEOUT_MS / 1000}s`)
  })

  await check('server_version', async () => {
    const r = await client.query(
      "SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS v"
    )
    assert.ok(r.rows[0].num >= 100000, `server_version_num ${r.rows[0].num}`)
    assert.ok(r.rows[0].v.startsWith(String(Math.floor(r.rows[0].num / 10000))), r.rows[0].v)
  })

  await check('backend pid matches pg_backend_pid()', async () => {
    const r = await client.query('SELECT pg_backend_pid() AS pid')
    assert.strictEqual(r.rows[0].pid, client.processID)
  })

  await check('SELECT constants as row objects', async () => {
    const r = await client.query(
      "SELECT 1 AS one, 'hello'::text AS t, 42::int8 AS big, true AS b, NULL::int AS n, ''::text AS e"
    )
    assert.deepStrictEqual(r.rows, [{ one: 1, t: 'hello', big: '42', b: true, n: null, e: '' }])
    assert.deepStrictEqual(
      r.fields.map((f) => f.name),
      ['one', 't', 'big', 'b', 'n', 'e']
    )
    assert.deepStrictEqual(
      r.fields.map((f) => f.dataTypeID),
      [23, 25, 20, 16, 23, 25]
    )
    assert.strictEqual(r.command, 'SELECT')
    assert.strictEqual(r.rowCount, 1)
  })

  await check('rowMode array', async () => {
    const r = await client.query({ text: 'SELECT 1 AS a, 2 AS b UNION ALL SELECT 3, 4', rowMode: 'array' })
    assert.deepStrictEqual(r.rows, [
      [1, 2],
      [3, 4],
    ])
  })

  // ------------------------------------------------------------ parameters
  await check('parameterized int query', async () => {
    const r = await client.query('SELECT $1::int + $2::int AS s', [2, 40])
    assert.strictEqual(r.rows[0].s, 42)
  })

  await check('parameterized text with quotes and unicode', async () => {
    const values = [
      'it\'s "quoted"',
      "back\\slash and 'single' and \"double\" ; -- not a comment",
      'héllo wörld ✓ 日本語 🐘',
      '',
      '$1 %s ? :name',
    ]
    for (const v of values) {
      const r = await client.query('SELECT $1::text AS v, length($1::text) AS n', [v])
      assert.deepStrictEqual(r.rows[0], { v, n: [...v].length }, `round trip of ${JSON.stringify(v)}`)
    }
  })

  await check('NULL parameter', async () => {
    const r = await client.query('SELECT $1::int IS NULL AS isnull, $2::text AS t', [null, undefined])
    assert.deepStrictEqual(r.rows[0], { isnull: true, t: null })
  })

  await check('bytea and json parameters', async () => {
    const buf = Buffer.from([0, 1, 255, 0])
    const obj = { a: 1, b: ['x', 'ü'], c: null }
    const r = await client.query('SELECT $1::bytea AS b, $2::jsonb AS j, octet_length($1::bytea) AS n', [
      buf,
      JSON.stringify(obj),
    ])
    assert.ok(buf.equals(r.rows[0].b), `bytea ${r.rows[0].b && r.rows[0].b.toString('hex')}`)
    assert.deepStrictEqual(r.rows[0].j, obj)
    assert.strictEqual(r.rows[0].n, 4)
  })

  await check('NOTICE delivered', async () => {
    const notices = []
    const onNotice = (msg) => notices.push(msg.message)
    client.on('notice', onNotice)
    await client.query("DO $$ BEGIN RAISE NOTICE 'smoke notice %', 42; END $$")
    client.removeListener('notice', onNotice)
    assert.deepStrictEqual(notices, ['smoke notice 42'])
  })

  // ---------------------------------------------------------- transactions
  await check('create temp table', async () => {
    const r = await client.query('CREATE TEMP TABLE smoke_items (id int PRIMARY KEY, name text NOT NULL)')
    assert.strictEqual(r.command, 'CREATE')
  })

  const names = async () =>
    (await client.query({ text: 'SELECT name FROM smoke_items ORDER BY id', rowMode: 'array' })).rows.map(
      (r) => r[0]
    )

  await check('BEGIN / INSERT with params / COMMIT: rows visible', async () => {
    await expectTxStatus(client, 'I')
    await client.query('BEGIN')
    await expectTxStatus(client, 'T')
    for (const [id, name] of [
      [1, 'one'],
      [2, "twö 'two'"],
    ]) {
      const r = await client.query('INSERT INTO smoke_items (id, name) VALUES ($1, $2)', [id, name])
      assert.strictEqual(r.command, 'INSERT')
      assert.strictEqual(r.rowCount, 1)
    }
    await client.query('COMMIT')
    await expectTxStatus(client, 'I')
    assert.deepStrictEqual(await names(), ['one', "twö 'two'"])
  })

  await check('BEGIN / INSERT / ROLLBACK: rows not visible', async () => {
    await client.query('BEGIN')
    await client.query('INSERT INTO smoke_items (id, name) VALUES ($1, $2)', [3, 'three'])
    assert.strictEqual((await names()).length, 3, 'row count inside the transaction')
    const r = await client.query('ROLLBACK')
    assert.strictEqual(r.command, 'ROLLBACK')
    assert.deepStrictEqual(await names(), ['one', "twö 'two'"])
  })

  await check('UPDATE / DELETE row counts', async () => {
    let r = await client.query('UPDATE smoke_items SET name = $1 WHERE id = $2', ['uno', 1])
    assert.deepStrictEqual([r.command, r.rowCount], ['UPDATE', 1])
    await client.query("INSERT INTO smoke_items VALUES (10, 'ten'), (11, 'eleven')")
    r = await client.query('DELETE FROM smoke_items WHERE id = $1', [10])
    assert.deepStrictEqual([r.command, r.rowCount], ['DELETE', 1])
    r = await client.query('DELETE FROM smoke_items WHERE id = $1 RETURNING name', [11])
    assert.deepStrictEqual([r.command, r.rowCount, r.rows], ['DELETE', 1, [{ name: 'eleven' }]])
    r = await client.query('DELETE FROM smoke_items WHERE id = $1', [12345])
    assert.deepStrictEqual([r.command, r.rowCount], ['DELETE', 0])
    assert.deepStrictEqual(await names(), ['uno', "twö 'two'"])
  })

  // ---------------------------------------------------------------- errors
  await check('division by zero reports SQLSTATE 22012', async () => {
    const err = await expectError('22012', () => client.query('SELECT 1/0'))
    assert.strictEqual(err.message, 'division by zero')
    assert.strictEqual(err.severity, 'ERROR')
  })

  await check('connection usable after error', async () => {
    const r = await client.query('SELECT 2 AS two')
    assert.strictEqual(r.rows[0].two, 2)
  })

  await check('error in extended protocol (params) reports 22012, then usable', async () => {
    await expectError('22012', () => client.query('SELECT $1::int / $2::int', [1, 0]))
    const r = await client.query('SELECT $1::int / $2::int AS q', [9, 3])
    assert.strictEqual(r.rows[0].q, 3)
  })

  await check('unique violation reports SQLSTATE 23505', async () => {
    const err = await expectError('23505', () =>
      client.query('INSERT INTO smoke_items VALUES ($1, $2)', [1, 'dup'])
    )
    assert.strictEqual(err.constraint, 'smoke_items_pkey')
    assert.strictEqual(err.table, 'smoke_items')
    const r = await client.query('SELECT count(*)::int AS n FROM smoke_items')
    assert.strictEqual(r.rows[0].n, 2)
  })

  await check('syntax error reports SQLSTATE 42601, then usable', async () => {
    await expectError('42601', () => client.query('SELEC 1'))
    await expectError('42P01', () => client.query('SELECT * FROM smoke_no_such_table'))
    const r = await client.query('SELECT 3 AS three')
    assert.strictEqual(r.rows[0].three, 3)
  })

  await check('error inside transaction: 25P02 until ROLLBACK', async () => {
    await client.query('BEGIN')
    await client.query('INSERT INTO smoke_items VALUES ($1, $2)', [30, 'lost'])
    await expectError('22012', () => client.query('SELECT 1/0'))
    await expectTxStatus(client, 'E')
    await expectError('25P02', () => client.query('SELECT 1'))
    await expectError('25P02', () => client.query('SELECT $1::int', [1]))
    await client.query('ROLLBACK')
    await expectTxStatus(client, 'I')
    const r = await client.query('SELECT 4 AS four')
    assert.strictEqual(r.rows[0].four, 4)
    const c = await client.query('SELECT count(*)::int AS n FROM smoke_items WHERE id = 30')
    assert.strictEqual(c.rows[0].n, 0)
  })

  // --------------------------------------------------- prepared statements
  await check('named prepared statement executed 10 times', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await client.query({
        name: 'smoke_add',
        text: 'SELECT $1::int + $2::int AS s, $3::text AS label',
        values: [i, i * 10, `run ${i} ✓`],
      })
      assert.deepStrictEqual(r.rows, [{ s: i * 11, label: `run ${i} ✓` }], `iteration ${i}`)
    }
    const p = await client.query(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'smoke_add'"
    )
    assert.strictEqual(p.rows[0].n, 1, 'pg_prepared_statements')
  })

  await check('named prepared statement with an error, then reused', async () => {
    const q = (d) => client.query({ name: 'smoke_div', text: 'SELECT 10 / $1::int AS q', values: [d] })
    assert.strictEqual((await q(1)).rows[0].q, 10)
    await expectError('22012', () => q(0))
    assert.strictEqual((await q(2)).rows[0].q, 5)
  })

  await check('named prepared INSERT into temp table', async () => {
    for (let i = 100; i < 110; i++) {
      const r = await client.query({
        name: 'smoke_ins',
        text: 'INSERT INTO smoke_items (id, name) VALUES ($1, $2)',
        values: [i, `n${i}`],
      })
      assert.strictEqual(r.rowCount, 1)
    }
    const c = await client.query('SELECT count(*)::int AS n FROM smoke_items WHERE id >= 100')
    assert.strictEqual(c.rows[0].n, 10)
  })

  // ------------------------------------------------------------- many rows
  await check('10000 rows from generate_series', async () => {
    const r = await client.query('SELECT g, md5(g::text) AS h FROM generate_series(1, 10000) g')
    assert.strictEqual(r.rowCount, 10000)
    assert.strictEqual(r.rows.length, 10000)
    let sum = 0
    for (const row of r.rows) sum += row.g
    assert.strictEqual(sum, 50005000)
    assert.strictEqual(r.rows[9999].h.length, 32)
    const c = await client.query('SELECT count(*)::int AS n FROM generate_series(1, $1::int)', [10000])
    assert.strictEqual(c.rows[0].n, 10000)
  })

  await check('multiple statements in one simple query', async () => {
    const rs = await client.query("SELECT 1 AS a; SELECT 'two' AS b; CREATE TEMP TABLE smoke_multi (x int)")
    assert.ok(Array.isArray(rs), 'expected an array of results')
    assert.deepStrictEqual(
      rs.map((r) => [r.command, r.rows]),
      [
        ['SELECT', [{ a: 1 }]],
        ['SELECT', [{ b: 'two' }]],
        ['CREATE', []],
      ]
    )
  })

  await check('empty query', async () => {
    const r = await client.query('')
    assert.strictEqual(r.rows.length, 0)
    const s = await client.query('SELECT 5 AS five')
    assert.strictEqual(s.rows[0].five, 5)
  })

  await check('pipeline mode: 20 queries in flight at once', async () => {
    const piped = newClient({ pipeline: true })
    await piped.connect()
    const ps = []
    for (let i = 0; i < 20; i++) {
      ps.push(piped.query('SELECT $1::int * 2 AS d', [i]))
    }
    ps.push(
      piped.query('SELECT 1/0').then(
        () => assert.fail('expected an error'),
        (e) => assert.strictEqual(e.code, '22012')
      )
    )
    ps.push(piped.query({ name: 'smoke_piped', text: 'SELECT $1::text AS t', values: ['ü'] }))
    ps.push(piped.query({ name: 'smoke_piped', text: 'SELECT $1::text AS t', values: ['ß'] }))
    ps.push(piped.query('SELECT 6 AS six'))
    const results = await Promise.all(ps)
    for (let i = 0; i < 20; i++) assert.strictEqual(results[i].rows[0].d, i * 2, `query ${i}`)
    assert.deepStrictEqual(
      results.slice(21).map((r) => r.rows[0]),
      [{ t: 'ü' }, { t: 'ß' }, { six: 6 }]
    )
    await piped.end()
  })

  // --------------------------------------------------------- LISTEN/NOTIFY
  // A channel of our own: other runs may share the server at the same time.
  const chan = `smoke_chan_${process.pid}_${require('crypto').randomBytes(4).toString('hex')}`
  const listener = newClient()
  await check('LISTEN/NOTIFY with a notification event', async () => {
    await listener.connect()
    const received = []
    let wake = null
    listener.on('notification', (msg) => {
      received.push(msg)
      if (wake) wake()
    })
    const waitFor = (n, ms) =>
      withTimeout(
        new Promise((resolve) => {
          const poll = () => (received.length >= n ? resolve() : (wake = poll))
          poll()
        }),
        ms,
        `${n} notification(s)`
      )

    await listener.query(`LISTEN ${chan}`)
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    await client.query(`NOTIFY ${chan}, 'plain payload'`)
    await client.query('SELECT pg_notify($1, $2)', [chan, "payload ü 'q'"])
    await waitFor(2, 5000)
    assert.deepStrictEqual(
      received.map((m) => [m.channel, m.payload, m.processId]),
      [
        [chan, 'plain payload', pid],
        [chan, "payload ü 'q'", pid],
      ]
    )

    // inside a transaction the notification is delivered only at COMMIT
    await client.query('BEGIN')
    await client.query(`NOTIFY ${chan}, 'tx'`)
    await sleep(300)
    assert.strictEqual(received.length, 2, 'notification before COMMIT')
    await client.query('COMMIT')
    await waitFor(3, 5000)
    assert.deepStrictEqual([received[2].channel, received[2].payload], [chan, 'tx'])
  })

  await check('UNLISTEN and close', async () => {
    await listener.query('UNLISTEN *')
    await listener.end()
    const r = await client.query("SELECT 'bye' AS bye")
    assert.strictEqual(r.rows[0].bye, 'bye')
    await client.end()
  })

  clearTimeout(watchdog)
  process.stdout.write(`node-postgres: ${checksPassed} checks passed\n`, () => process.exit(0))
}

main().catch((err) => fail(current, err))
