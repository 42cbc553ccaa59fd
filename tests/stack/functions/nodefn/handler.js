'use strict'

// The stack test's Node.js function, written to the OpenFaaS node20
// contract: it returns what the template parsed, and sets status and a
// header through the context.
module.exports = async (event, context) => {
  const status = Number(event.query.status || 200)
  if (event.query.fail) {
    return context.fail(new Error('asked to fail'))
  }
  return context
    .status(status)
    .headers({ 'X-Test-Fn': 'nodefn', 'Content-Type': 'application/json' })
    .succeed({
      method: event.method,
      path: event.path,
      query: event.query,
      body: event.body,
      contentType: event.headers['content-type'],
      uid: process.getuid(),
      cwd: process.cwd(),
      leftpad: require('left-pad')('x', 3, '0')
    })
}
