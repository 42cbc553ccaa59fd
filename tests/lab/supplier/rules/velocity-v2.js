'use strict';
// Fraud rule published by the (lab) payment supplier: basket size and
// quantity limits.
module.exports = {
  name: 'velocity-v2',
  check(order) {
    const items = Array.isArray(order.items) ? order.items : [];
    const qty = items.reduce((n, it) => n + (it.qty || 1), 0);
    if (qty > 40) return { ok: false, reason: 'too many units in one order' };
    return { ok: true, units: qty };
  },
};
