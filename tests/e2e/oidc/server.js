// A real OpenID Provider (the certified `oidc-provider` package) for authhooks' end-to-end tests.
//
// Usage: node server.js [PORT]   (or OIDC_PORT); everything else from the environment:
//   OIDC_JWKS_FILE      required: a JWK Set of *private* signing keys (RSA, EC P-256, Ed25519, ...). The test writes
//                       it, so it controls every kid and alg; the provider publishes the public halves at /jwks.
//   OIDC_ISSUER         the issuer identifier (default http://127.0.0.1:PORT).
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//                       the one confidential client (client_secret_basic): client_credentials, authorization_code
//                       (with PKCE, S256) and refresh_token grants (default authhooks-test / a fixed dev secret).
//   OIDC_REDIRECT_URI   the client's redirect URI (default http://127.0.0.1:PORT/cb); comma-separated for several.
//   OIDC_EXTRA_CLIENTS  a JSON array of more client metadata (RFC 7591 §2 names), e.g. a public client
//                       (`token_endpoint_auth_method: "none"`) or one using `client_secret_post`.
//   OIDC_AUDIENCE       the `aud` of every JWT access token (default urn:authhooks:test-api).
//   OIDC_ADMIN_TOKEN    enables the test-only admin route below (absent: no admin route).
//
// JWT access tokens (RFC 9068, `typ: at+jwt`) are issued for a resource indicator (RFC 8707) that picks the signing
// key: `resource=urn:authhooks:alg:<ALG>` signs with the first key of the JWKS file usable for ALG,
// `resource=urn:authhooks:alg:<ALG>:kid:<KID>` with exactly that key; a `:typ:<TYP>` suffix sets the header `typ`
// instead (`:typ:none` leaves it out), as providers that type access tokens `JWT` or not at all do. Any other
// resource is `invalid_target`; a request without resource gets an opaque token (userinfo only).
//
// Interactive login (devInteractions: any login name and password) is on, for browser tests: GET /auth with
// response_type=code, code_challenge (S256), redirect_uri; the provider's own pages at /interaction/<uid>.
//
// Test-only admin route (never part of a real provider): `PUT /__admin/jwks` with `Authorization: Bearer
// <OIDC_ADMIN_TOKEN>` and a private JWK Set body replaces the provider's keys at once (a key rotation, emergency or
// planned); answers 204 once the new keys are served. Provider state (grants, sessions) is kept: the in-memory
// adapter is shared by the old and the new provider object.
//
// The loopback http issuer needs no proxy setting: the provider is reached directly (no TLS offloading in front, so
// `provider.proxy` stays false) and its cookies are simply not `secure` over http.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT (or OIDC_PORT)');
  process.exit(2);
}
const jwksFile = process.env.OIDC_JWKS_FILE;
if (!jwksFile) {
  console.error('OIDC_JWKS_FILE is required');
  process.exit(2);
}
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'authhooks-test';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'authhooks-test-client-secret-for-loopback-tests-only';
const redirectUris = (process.env.OIDC_REDIRECT_URI || `http://127.0.0.1:${port}/cb`).split(',');
const audience = process.env.OIDC_AUDIENCE || 'urn:authhooks:test-api';
const adminToken = process.env.OIDC_ADMIN_TOKEN || '';
const extraClients = JSON.parse(process.env.OIDC_EXTRA_CLIENTS || '[]');

const RESOURCE = /^urn:authhooks:alg:([A-Za-z0-9]+)(?::kid:([^:]+))?(?::typ:([^:]+))?$/;

function parseResource(indicator) {
  const match = RESOURCE.exec(indicator);
  if (!match) {
    throw new errors.InvalidTarget(`unknown resource indicator ${indicator}`);
  }
  const [, alg, kid, typ] = match;
  return { alg, kid, typ };
}

function resourceServer(indicator, jwks) {
  const { alg, kid } = parseResource(indicator);
  if (kid !== undefined && !jwks.keys.some((key) => key.kid === kid)) {
    throw new errors.InvalidTarget(`no key with kid ${kid}`);
  }
  return {
    audience,
    scope: 'read write',
    accessTokenFormat: 'jwt',
    accessTokenTTL: 600,
    jwt: { sign: kid === undefined ? { alg } : { alg, kid } },
  };
}

function configuration(jwks) {
  return {
    jwks,
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      id_token_signed_response_alg: 'RS256',
    }, ...extraClients],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'read', 'write'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['authhooks-e2e-cookie-key-not-a-secret'] },
    formats: {
      customizers: {
        async jwt(_ctx, token, jwt) {
          const { typ } = parseResource(token.resourceServer.identifier());
          if (typ !== undefined) {
            jwt.header = { typ: typ === 'none' ? undefined : typ };
          }
        },
      },
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => resourceServer(indicator, jwks),
      },
    },
  };
}

function readKeys(text) {
  const jwks = JSON.parse(text);
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new TypeError('a JWK Set with at least one key is required');
  }
  return jwks;
}

function build(jwks) {
  const provider = new Provider(issuer, configuration(jwks));
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  return provider;
}

let current = build(readKeys(readFileSync(jwksFile, 'utf8')));
let handler = current.callback();

function authorized(req) {
  if (!adminToken) return false;
  const given = Buffer.from(req.headers.authorization || '');
  const wanted = Buffer.from(`Bearer ${adminToken}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function admin(req, res) {
  if (req.method !== 'PUT' || !authorized(req)) {
    res.writeHead(req.method !== 'PUT' ? 405 : 401).end();
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  try {
    const next = build(readKeys(Buffer.concat(chunks).toString('utf8')));
    current = next;
    handler = next.callback();
    res.writeHead(204).end();
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
  }
}

const server = createServer((req, res) => {
  if (adminToken && req.url === '/__admin/jwks') {
    admin(req, res).catch((err) => {
      console.error('admin', err);
      res.destroy();
    });
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
