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

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { jwtVerify } from 'jose';
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

// Test-only keys, committed as such (test-only-keys/README.md): the
// clients that authenticate with private_key_jwt register their public
// halves here, and the Rust tests sign with the private halves.
const KEY_DIR = join(dirname(fileURLToPath(import.meta.url)), 'test-only-keys');
const publicJwk = (file, kid, alg) => ({
  ...createPublicKey(createPrivateKey(readFileSync(join(KEY_DIR, file)))).export({ format: 'jwk' }),
  kid,
  alg,
  use: 'sig',
});
const RSA_JWK = publicJwk('rsa.pem', 'test-rsa', 'RS256');
const EC_JWK = publicJwk('ec.pem', 'test-ec', 'ES256');

// client_secret_jwt: HS256 needs a secret of at least 32 bytes.
export const SECRET_JWT = 'test-only-hs256-secret-0123456789abcdef';
const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
// The issuer of the JWT-bearer grant's assertions (a service account), who
// signs with rsa.pem, and the "cluster" whose projected service-account
// tokens (signed with ec.pem) the token exchange accepts as subject tokens.
const SERVICE_ACCOUNT = 'robot@freshen.test';
const CLUSTER_ISSUER = 'https://cluster.freshen.test';
const CLUSTER_AUDIENCE = 'freshen-federated';

CLIENTS.push(
  {
    client_id: 'freshen-pkjwt-rs',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS256',
    jwks: { keys: [RSA_JWK] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
  {
    client_id: 'freshen-pkjwt-es',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [EC_JWK] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
  {
    client_id: 'freshen-secret-jwt',
    client_secret: SECRET_JWT,
    token_endpoint_auth_method: 'client_secret_jwt',
    token_endpoint_auth_signing_alg: 'HS256',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
  // Workload identity, Azure's way: the client assertion is a projected
  // service-account token of the cluster (ec.pem), read from a file.
  {
    client_id: 'freshen-federated',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [EC_JWK] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
  // The JWT-bearer grant and the token exchange: a public client (the
  // credential is the grant's own assertion or subject token).
  {
    client_id: 'freshen-grants',
    token_endpoint_auth_method: 'none',
    grant_types: [GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE],
    response_types: [],
    redirect_uris: [],
    scope: 'api:read api:write',
  },
);

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

  // oidc-provider has neither the JWT-bearer grant (RFC 7523 §2.1) nor the
  // token exchange (RFC 8693): each is registered here, checking its
  // assertion with jose as a provider would, and issuing a client
  // credentials token of TOKEN_TTL for it.
  const issue = async (ctx, next) => {
    const token = new ctx.oidc.provider.ClientCredentials({ client: ctx.oidc.client });
    ctx.body = { access_token: await token.save(), expires_in: token.expiration, token_type: 'Bearer' };
    await next();
  };
  const refuse = (ctx, what, err) => {
    console.log(`${what}: refused: ${err.code ?? err.name}: ${err.message}`);
    ctx.status = 400;
    ctx.body = { error: 'invalid_grant', error_description: `${what} is not valid` };
  };
  const serviceAccountKey = createPublicKey(createPrivateKey(readFileSync(join(KEY_DIR, 'rsa.pem'))));
  const clusterKey = createPublicKey(createPrivateKey(readFileSync(join(KEY_DIR, 'ec.pem'))));
  provider.registerGrantType(GRANT_JWT_BEARER, async (ctx, next) => {
    try {
      const { payload } = await jwtVerify(ctx.oidc.params.assertion ?? '', serviceAccountKey, {
        issuer: SERVICE_ACCOUNT,
        audience: `${issuer}/token`,
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat', 'jti'],
      });
      console.log(`jwt-bearer: accepted jti=${payload.jti} scope=${payload.scope ?? '-'}`);
    } catch (err) {
      return refuse(ctx, 'the assertion', err);
    }
    return issue(ctx, next);
  }, ['assertion']);
  provider.registerGrantType(GRANT_TOKEN_EXCHANGE, async (ctx, next) => {
    try {
      if (ctx.oidc.params.subject_token_type !== 'urn:ietf:params:oauth:token-type:jwt') {
        throw new Error(`subject_token_type ${ctx.oidc.params.subject_token_type}`);
      }
      const { payload } = await jwtVerify(ctx.oidc.params.subject_token ?? '', clusterKey, {
        issuer: CLUSTER_ISSUER,
        audience: CLUSTER_AUDIENCE,
        algorithms: ['ES256'],
      });
      console.log(`token-exchange: accepted sub=${payload.sub}`);
    } catch (err) {
      return refuse(ctx, 'the subject token', err);
    }
    return issue(ctx, next);
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience']);

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
