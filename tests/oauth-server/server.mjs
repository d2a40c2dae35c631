// A real, third-party OAuth2 authorization server (npm `oidc-provider`) for
// freshen's integration tests. Serves the client_credentials grant on plain
// http over loopback. See README.md next to this file.
//
// Env:
//   PORT       port to bind on 127.0.0.1 (default 0 = any free port)
//   TOKEN_TTL  access-token lifetime in seconds for client_credentials (default 8)
//   STRICT_AUTH_METHOD  1 (default): a client must authenticate with exactly
//              its registered token_endpoint_auth_method; 0: stock
//              oidc-provider behaviour, which accepts client_secret_basic and
//              client_secret_post interchangeably for either client.
//   FRESHEN_PARENT_PID  if set, the pid of the process the server serves
//              (a test binary that started it): the server exits once that
//              process is gone (polled every 500 ms), so it never outlives it.
//
// Prints (and flushes) `listening on http://127.0.0.1:<port>` once ready.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';

function intEnv(name, dflt, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`invalid ${name}=${JSON.stringify(raw)}: need an integer >= ${min}`);
    process.exit(2);
  }
  return n;
}

const port = intEnv('PORT', 0, 0);
const tokenTtl = intEnv('TOKEN_TTL', 8, 1);
const strictAuthMethod = intEnv('STRICT_AUTH_METHOD', 1, 0) !== 0;

// Clients registered statically. The basic client's secret contains
// characters (':', '+', '/', '%') that RFC 6749 §2.3.1 requires to be
// application/x-www-form-urlencoded before base64 in the Basic header.
export const CLIENTS = [
  {
    client_id: 'freshen-basic',
    client_secret: 's3cr3t:basic+/%',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
  {
    client_id: 'freshen-post',
    client_secret: 's3cr3t-post',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
];

// Ephemeral RS256 signing key (RS256 is the clients' default
// id_token_signed_response_alg) so the provider does not fall back to its
// built-in development keys. Nothing we issue is signed: tokens are opaque.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'test' };

const server = http.createServer();

server.listen(port, HOST, () => {
  const { port: actualPort } = server.address();
  const issuer = `http://${HOST}:${actualPort}`;

  const provider = new Provider(issuer, {
    clients: CLIENTS,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['api:read', 'api:write'],
    features: {
      clientCredentials: { enabled: true },
      // No login UI is needed: only the client_credentials grant is used.
      devInteractions: { enabled: false },
      // Keep revocation/introspection available for tests that want them.
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    ttl: {
      ClientCredentials: tokenTtl,
    },
  });

  if (strictAuthMethod) {
    // oidc-provider treats client_secret_basic and client_secret_post as
    // interchangeable. For tests we want a client that uses the wrong one to
    // fail, so after a successful token request check which mechanism was
    // actually used and turn the response into invalid_client (destroying the
    // token just issued) when it does not match the registered one.
    provider.use(async (ctx, next) => {
      await next();
      const client = ctx.oidc?.client;
      if (ctx.method !== 'POST' || ctx.oidc?.route !== 'token' || ctx.status !== 200 || !client) return;
      const registered = client.tokenEndpointAuthMethod;
      if (registered !== 'client_secret_basic' && registered !== 'client_secret_post') return;
      const used = ctx.headers.authorization !== undefined ? 'client_secret_basic' : 'client_secret_post';
      if (used === registered) return;
      await ctx.oidc.entities.ClientCredentials?.destroy();
      console.log(`strict-auth-method: rejected (token destroyed) client=${client.clientId} used ${used}, registered ${registered}`);
      ctx.status = 401;
      if (used === 'client_secret_basic') {
        ctx.set('WWW-Authenticate', `Basic realm="${issuer}", error="invalid_client", error_description="client authentication failed"`);
      }
      ctx.body = {
        error: 'invalid_client',
        error_description: `client authentication failed: client must use ${registered}, not ${used}`,
      };
    });
  }

  provider.on('grant.success', (ctx) => {
    console.log(`grant.success client=${ctx.oidc.client?.clientId}`);
  });
  provider.on('grant.error', (ctx, err) => {
    console.log(`grant.error client=${ctx.oidc.client?.clientId ?? '-'} ${err.name}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
  });
  provider.on('server_error', (ctx, err) => {
    console.error('server_error', err);
  });

  server.on('request', provider.callback());

  const out = `listening on ${issuer}\n`
    + `token endpoint ${issuer}/token\n`
    + `token ttl ${tokenTtl}s, strict auth method ${strictAuthMethod ? 'on' : 'off'}\n`;
  // Write synchronously-ish and only then report readiness, so a harness
  // reading the log sees the whole block.
  process.stdout.write(out);
});

server.on('error', (err) => {
  console.error(`server error: ${err.message}`);
  process.exit(1);
});

function shutdown(sig) {
  console.log(`received ${sig}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

// Exit with the process that started us (FRESHEN_PARENT_PID), so a test that
// starts its own server cannot leave it running.
const parentPid = intEnv('FRESHEN_PARENT_PID', 0, 0);
if (parentPid > 0) {
  const alive = () => {
    try {
      process.kill(parentPid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists but belongs to someone else; only ESRCH means gone.
      return err.code === 'EPERM';
    }
  };
  if (!alive()) {
    console.error(`parent pid ${parentPid} is not running`);
    process.exit(1);
  }
  const watch = setInterval(() => {
    if (alive()) return;
    clearInterval(watch);
    shutdown(`parent ${parentPid} gone`);
  }, 500);
  watch.unref();
}
