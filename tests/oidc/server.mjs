// A real authorization server for mcp-builder's tests: oidc-provider on
// 127.0.0.1, with one confidential client allowed the client-credentials
// grant and one resource server (an MCP server's audience).
//
// Like Auth0, it takes the resource as an `audience` parameter (RFC 8707's
// `resource` works too) and then issues RS256 JWT access tokens with that
// `aud`; an unknown audience is refused with `invalid_target`. With
// TOKEN_FORMAT=opaque the audience's tokens are opaque, as from a provider
// whose API is not set up to issue JWTs.
//
// Settings come from the environment; the chosen port is printed as one
// JSON line on stdout: {"issuer": "http://127.0.0.1:PORT/"}.
//   AUDIENCE       the resource server identifier (required)
//   SCOPES         its scopes, space-separated (required)
//   CLIENT_ID      default "mcp-test-client"
//   CLIENT_SECRET  default "mcp-test-secret"
//   TOKEN_FORMAT   "jwt" (default) or "opaque": how tokens for AUDIENCE look
//   CLIENT_AUTH_METHOD  how the client must authenticate at the token
//                  endpoint: "client_secret_post" (default; the discovery
//                  document then lists only it, like an issuer without Basic)
//                  or "client_secret_basic" (the document lists
//                  oidc-provider's default methods, Basic and post among them)
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const audience = required('AUDIENCE');
const scopes = required('SCOPES');
const clientId = process.env.CLIENT_ID || 'mcp-test-client';
const clientSecret = process.env.CLIENT_SECRET || 'mcp-test-secret';
const tokenFormat = process.env.TOKEN_FORMAT || 'jwt';
const clientAuthMethod = process.env.CLIENT_AUTH_METHOD || 'client_secret_post';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'oidc-rsa-1', alg: 'RS256', use: 'sig' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}/`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: clientAuthMethod,
      },
    ],
    ...(clientAuthMethod === 'client_secret_post' ? { clientAuthMethods: ['client_secret_post'] } : {}),
    jwks: { keys: [signingKey] },
    scopes: ['openid', ...scopes.split(' ')],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The token endpoint does not take extra parameters: read Auth0's
        // `audience` from the parsed form body.
        defaultResource: (ctx) => ctx.oidc.body?.audience || undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== audience) {
            throw new errors.InvalidTarget(`unknown audience ${resource}`);
          }
          return {
            scope: scopes,
            audience,
            accessTokenFormat: tokenFormat,
            ...(tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
