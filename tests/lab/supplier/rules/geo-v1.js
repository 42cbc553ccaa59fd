'use strict';
// Fraud rule published by the (lab) payment supplier: regions served.
const SERVED = new Set(['eu-de', 'eu-fr', 'uk', 'us-ca', 'us-or', 'jp']);
module.exports = {
  name: 'geo-v1',
  check(order) {
    if (order.region && !SERVED.has(order.region)) return { ok: false, reason: 'region not served' };
    return { ok: true };
  },
};
