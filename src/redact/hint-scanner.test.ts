import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createHintScanner, hintBit } from './hint-scanner.js';

describe('createHintScanner', () => {
  it('finds overlapping literals (the Aho–Corasick paper example)', () => {
    const scan = createHintScanner([
      { hints: ['he'] },
      { hints: ['she'] },
      { hints: ['his'] },
      { hints: ['hers'] },
    ]);
    assert.equal(scan('ushers'), 0b1011);
    assert.equal(scan('this'), 0b0100);
    assert.equal(scan('nothing'), 0);
  });

  it('folds ASCII case in both hints and text', () => {
    const scan = createHintScanner([{ hints: ['eyJ'] }, { hints: ['Bearer'] }]);
    assert.equal(scan('EYJ and bEaReR'), 0b11);
  });

  it('treats non-ASCII characters as breaking every hint', () => {
    const scan = createHintScanner([{ hints: ['token'] }]);
    assert.equal(scan('tok\u00e9n'), 0);
    assert.equal(scan('\u00e9token\u00e9'), 1);
  });

  it('reports runs of digits that single spaces or dashes may separate', () => {
    const scan = createHintScanner([{ hints: [], digitRun: 13 }]);
    assert.equal(scan('4111 1111 1111 1111'), 1);
    assert.equal(scan('card 5555-5555-5555-4444.'), 1);
    assert.equal(scan('1234567890123'), 1);
    assert.equal(scan('123456789012'), 0);
    assert.equal(scan('2024-06-01T12:00:00.000Z'), 0);
    assert.equal(scan('+1 415-555-0132'), 0);
  });

  it('always reports detectors without hints', () => {
    const scan = createHintScanner([{ hints: ['x'] }, { hints: null }]);
    assert.equal(scan(''), 0b10);
  });

  it('shares bits beyond 31 detectors, so that each one still runs when its hint is seen', () => {
    const detectors = Array.from({ length: 40 }, (_, i) => ({ hints: [`h${i}x`] }));
    const scan = createHintScanner(detectors);
    assert.equal(hintBit(35), hintBit(4));
    assert.equal(scan('h35x'), hintBit(35));
    assert.equal(scan('h4x'), hintBit(4));
    assert.equal(scan('h30x h31x'), hintBit(30) | hintBit(0));
  });

  it('reports a dot after a long word run', () => {
    const scan = createHintScanner([{ hints: [], dotRun: 24 }]);
    assert.equal(scan('a'.repeat(24) + '.x'), 0b1);
    assert.equal(scan('a'.repeat(23) + '.x'), 0);
    assert.equal(scan('a'.repeat(20) + ' ' + 'a'.repeat(20) + '.'), 0);
    assert.equal(scan('a'.repeat(30)), 0);
  });

  it('rejects what it cannot scan for', () => {
    assert.throws(() => createHintScanner([{ hints: ['caf\u00e9'] }]), /ASCII/);
    assert.throws(() => createHintScanner([{ hints: [''] }]), /empty/);
  });

  it('agrees with a naive case-insensitive search', () => {
    const alphabet = fc.constantFrom('a', 'b', 'A', 'B', '-', '_');
    const word = fc.string({ unit: alphabet, minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(fc.array(word, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        fc.string({ unit: alphabet, maxLength: 40 }),
        (detectors, text) => {
          const scan = createHintScanner(detectors.map((hints) => ({ hints })));
          let expected = 0;
          detectors.forEach((hints, i) => {
            if (hints.some((h) => text.toLowerCase().includes(h.toLowerCase()))) expected |= 1 << i;
          });
          assert.equal(scan(text), expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});
