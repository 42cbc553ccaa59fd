'use strict';
// Baseline fraud rule shipped with the function: order value limits.
module.exports = {
  name: 'baseline-limits',
  check(order) {
    if (typeof order.total !== 'number' || order.total <= 0) return { ok: false, reason: 'no total' };
    if (order.total > 5000) return { ok: false, reason: 'amount over the card-not-present limit' };
    return { ok: true };
  },
};
