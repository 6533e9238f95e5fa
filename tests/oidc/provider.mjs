// A real OpenID Connect provider for the tests: node provider.mjs PORT DIRECTORY.json
//
// PORT 0 lets the system choose a free port: the socket is bound before the
// provider is built (its issuer names the port), so no other process can take
// the port between choosing and listening. The first line on stdout says where
// it listens.
//
// DIRECTORY.json holds {"clients": [...oidc-provider client metadata...],
// "accounts": {"login": {claims...}}}; the accounts are read again at each sign-in. Sign-in uses oidc-provider's own
// development pages (any password; the account must be in the directory), so a
// browser goes through the real authorization-code flow: login, consent,
// redirect with a code, token and userinfo requests from the relying party.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const [requestedPort, directoryPath] = process.argv.slice(2);
// Read again at each sign-in, so a test can change someone's roles at the provider.
const directory = () => JSON.parse(readFileSync(directoryPath, 'utf8'));
const server = createServer();
server.listen(Number(requestedPort), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = buildProvider(issuer, port);
  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
    server.close(() => process.exit(0));
  });
}

function buildProvider(issuer, port) {
  // This run's own signing key: ID tokens are RS256-signed, checked by PeaceWatch against /jwks.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: directory().clients,
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: `test-${port}`, use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Scopes named after the claims they release (PeaceWatch asks for "roles" and "squads").
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'given_name', 'family_name', 'name'],
      email: ['email'],
      roles: ['roles'],
      squads: ['squads'],
    },
    async findAccount(ctx, id) {
      const claims = directory().accounts[id];
      if (!claims) return undefined;
      return { accountId: id, async claims() { return { sub: id, preferred_username: id, ...claims }; } };
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
  });
  provider.proxy = false;
  return provider;
}
