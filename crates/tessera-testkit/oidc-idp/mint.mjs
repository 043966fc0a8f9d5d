// Test helper beside the IdP: make an RSA signing key the IdP can be configured with, and
// mint tokens signed with it (for expired or foreign-issuer cases a real login cannot give).
//
//   node mint.mjs --genkey FILE             writes {"keys":[<private RSA JWK, kid, alg RS256>]}
//   node mint.mjs --jwks FILE --claims JSON prints a compact RS256 JWS signed with the first key
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

if (args.genkey) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  writeFileSync(args.genkey, JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
} else if (args.jwks && args.claims) {
  const jwk = JSON.parse(readFileSync(args.jwks, 'utf8')).keys[0];
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: jwk.kid })}.${b64(JSON.parse(args.claims))}`;
  process.stdout.write(`${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}\n`);
} else {
  process.stderr.write('usage: mint.mjs --genkey FILE | --jwks FILE --claims JSON\n');
  process.exit(2);
}
