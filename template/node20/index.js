// faasmon's node20 template: the OpenFaaS node20 (node-express) contract,
// written for faasmon. A function folder holds handler.js and package.json;
// handler.js exports (event, context) or async (event, context).
//
// This express server is the function's process: on the local stack it is
// what the provider starts (and the tracer attaches to) on port 8080; in a
// cluster of-watchdog (mode=http) proxies to it on 3000.
'use strict'

const express = require('express')
const handler = require('./function/handler')

const app = express()
app.disable('x-powered-by')

const defaultMaxSize = '100kb' // body-parser's default, as upstream
const rawLimit = process.env.MAX_RAW_SIZE || defaultMaxSize
const jsonLimit = process.env.MAX_JSON_SIZE || defaultMaxSize

// Without a content-type body parsers leave the body empty, which surprises
// handlers: treat such requests as text.
app.use((req, res, next) => {
  if (!req.headers['content-type']) {
    req.headers['content-type'] = 'text/plain'
  }
  next()
})

if (process.env.RAW_BODY === 'true') {
  app.use(express.raw({ type: '*/*', limit: rawLimit }))
} else {
  app.use(express.text({ type: 'text/*', limit: rawLimit }))
  app.use(express.json({ limit: jsonLimit }))
  app.use(express.urlencoded({ extended: true, limit: rawLimit }))
}

class FunctionEvent {
  constructor (req) {
    this.body = req.body
    this.headers = req.headers
    this.method = req.method
    this.query = req.query
    this.path = req.path
  }
}

class FunctionContext {
  constructor (done) {
    this.statusCode = 200
    this.headerValues = {}
    this.cbCalled = 0
    this.done = done
  }

  // status() reads, status(code) sets and chains.
  status (code) {
    if (!code) {
      return this.statusCode
    }
    this.statusCode = code
    return this
  }

  // headers() reads, headers(obj) replaces and chains.
  headers (values) {
    if (!values) {
      return this.headerValues
    }
    this.headerValues = values
    return this
  }

  succeed (value) {
    this.cbCalled++
    this.done(undefined, value)
  }

  fail (value) {
    if (Number(this.status()) === 200) {
      this.status(500)
    }
    this.cbCalled++
    this.done(value)
  }
}

const isPlainData = (v) => Array.isArray(v) || (!!v && v.constructor === Object)

function invoke (req, res) {
  const fnEvent = new FunctionEvent(req)
  const fnContext = new FunctionContext((err, result) => {
    if (res.headersSent) {
      return // a second succeed/fail, or a callback after a returned value
    }
    if (err) {
      console.error(err)
      return res.status(fnContext.status()).send(err && err.toString ? err.toString() : String(err))
    }
    res.set(fnContext.headers()).status(fnContext.status())
    if (isPlainData(result)) {
      return res.send(JSON.stringify(result))
    }
    return res.send(result)
  })
  const cb = (err, result) => err ? fnContext.fail(err) : fnContext.succeed(result)

  Promise.resolve()
    .then(() => handler(fnEvent, fnContext, cb))
    .then((result) => {
      if (!fnContext.cbCalled) {
        fnContext.succeed(result)
      }
    })
    .catch((err) => fnContext.fail(err))
}

app.all('/*', invoke)
app.all('/', invoke)

// A malformed JSON body is the caller's mistake, not a crash.
app.use((err, req, res, next) => {
  if (res.headersSent) {
    return next(err)
  }
  res.status(err.status || err.statusCode || 500).send(err.message || String(err))
})

const port = process.env.http_port || process.env.port || 3000
const server = app.listen(port, () => {
  console.log(`node20 function listening on port: ${port}`)
})

process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 5000).unref()
})
