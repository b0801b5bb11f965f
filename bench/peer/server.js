// The peer for bench/tokens.sh: node-oidc-provider 8.8.1 set up like Latchkey's demo realm, as far
// as the library allows. In-memory adapter (the library's default), one RSA-2048 signing key made at
// start, listening on 127.0.0.1:$PORT.
//
//   PORT=18282 node bench/peer/server.js
//
// - client `demo-web` / `demo-web-secret`, client_secret_basic, grants client_credentials,
//   authorization_code and refresh_token;
// - client_credentials: resource indicators resolve every such request to one API resource whose
//   access tokens are JWTs signed RS256 (the library's only way to get JWT access tokens);
// - refresh tokens are issued without offline_access (as Latchkey does for scope openid) and
//   rotate on every use; the access token of a refresh is a JWT for the granted resource, so a
//   refresh signs two RS256 tokens (access and ID token), as Latchkey's does;
// - introspection is enabled; the library introspects only opaque (stored) access tokens, not its
//   JWT ones;
// - users are signed in through the library's development interactions (any login, no password),
//   which the load driver walks once per worker to get its first refresh token.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 18282);
const issuer = `http://127.0.0.1:${port}`;
const api = 'urn:latchkey-bench:api';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'demo-web',
    client_secret: 'demo-web-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['latchkey-bench-cookie-key'] },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return ctx.oidc.params.grant_type === 'client_credentials' ? api : undefined;
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(ctx, resource) {
        if (resource !== api) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api',
          audience: api,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`peer listening on ${issuer}\n`);
});
