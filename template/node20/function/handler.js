'use strict'

// Example handler. event: body, headers, method, query, path.
// context: status(), headers(), succeed(), fail().
module.exports = async (event, context) => {
  const result = {
    status: 'Received input: ' + JSON.stringify(event.body)
  }

  return context
    .status(200)
    .succeed(result)
}
