// jfrog-client-js (JFrog's own npm client) against a running access-node: ping and version,
// with an admin access token. Environment: ACCESS_URL, ACCESS_TOKEN. Exits non-zero on failure.
const assert = require('assert');
const { JfrogClient } = require('jfrog-client-js');

async function main() {
  const platformUrl = process.env.ACCESS_URL;
  const accessToken = process.env.ACCESS_TOKEN;
  assert.ok(platformUrl && accessToken, 'ACCESS_URL and ACCESS_TOKEN are required');
  const client = new JfrogClient({ platformUrl, accessToken, proxy: false });
  const system = client.artifactory().system();
  const pong = await system.ping();
  assert.strictEqual(String(pong).trim(), 'OK', `ping answered ${JSON.stringify(pong)}`);
  const version = await system.version();
  assert.strictEqual(version.version, '7.77.5', JSON.stringify(version));
  assert.ok(version.access_node_version, JSON.stringify(version));
  // A bad token: version needs authentication and is refused.
  const bad = new JfrogClient({ platformUrl, accessToken: 'not-a-token', proxy: false });
  await assert.rejects(bad.artifactory().system().version());
  console.log('jfrog-client-js: 3 checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
