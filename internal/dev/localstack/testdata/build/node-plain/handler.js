'use strict'

// Answers the body's length, as text.
module.exports = async (event, context) => {
  const body = typeof event.body === 'string' ? event.body : JSON.stringify(event.body || '')
  return context.status(200).succeed('node-plain ' + body.length)
}
