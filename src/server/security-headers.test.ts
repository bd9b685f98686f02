import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { securityHeaders } from './security-headers.js';

describe('securityHeaders', () => {
  it("are helmet's defaults, written out here so that a change upstream shows", () => {
    const { set, removed } = securityHeaders();
    assert.deepEqual(Object.fromEntries(set), {
      'content-security-policy':
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    });
    assert.deepEqual(removed, ['X-Powered-By']);
  });
});
