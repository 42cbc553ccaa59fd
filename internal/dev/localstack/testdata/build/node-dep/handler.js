'use strict'

const ms = require('ms')

// Turns a duration like "2h" into milliseconds with the ms package.
module.exports = async (event, context) => {
  return context.status(200).succeed('node-dep ' + ms(String(event.body || '1s')))
}
