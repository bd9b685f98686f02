/**
 * The pre-check run on every string before any detector: one pass over the characters through
 * an Aho–Corasick automaton (Aho & Corasick, CACM 18(6), 1975) built from the detectors' literal
 * hints, ASCII case-folded, plus a counter of digits in a run. It answers which detectors can
 * possibly match, so a string without `token`, `ghp_`, `://`, 13 grouped digits, ... costs one
 * table lookup per character and no regex at all. (A combined case-insensitive regex of the
 * same hints costs about as much per string in V8, measured, but answers only "any?", leaving
 * each detector's own hint to be tested; this answers which detectors, in the same pass.)
 */

/** What one detector needs to see before it can match. */
export interface Hints {
  /** Literals (ASCII, matched case-insensitively), one of which every match contains; `null`: always run. */
  readonly hints: readonly string[] | null;
  /** Alternatively, at least this many digits in a run where single spaces or dashes may separate them. */
  readonly digitRun?: number;
  /** Alternatively, a `.` right after at least this many characters of `[A-Za-z0-9_-]`. */
  readonly dotRun?: number;
}

/** Bits in the mask; detector `i` owns bit `i % MASK_BITS`. */
const MASK_BITS = 31;

/**
 * The bit of detector `i` in a scanner's mask. Beyond 31 detectors, detectors share bits: a
 * shared bit runs both of them when either one's hint is seen, which costs time, never a miss.
 *
 * @example
 * hintBit(2)  // 0b100
 * hintBit(33) // 0b100 (shared with detector 2)
 */
export function hintBit(i: number): number {
  return 1 << (i % MASK_BITS);
}

/**
 * Builds a scanner for the hints of the given detectors. It returns a bitmask: bit
 * {@link hintBit}`(i)` is set when detector `i` may match the string.
 *
 * @example
 * const scan = createHintScanner([{ hints: ['ghp_'] }, { hints: [], digitRun: 13 }]);
 * scan('token GHP_abc')          // 0b01
 * scan('4111 1111 1111 1111')    // 0b10
 */
export function createHintScanner(detectors: readonly Hints[]): (text: string) => number {
  let always = 0;
  let digitRun = Infinity;
  let digitMask = 0;
  let dotRun = Infinity;
  let dotMask = 0;
  const literals: { text: string; bit: number }[] = [];
  detectors.forEach((d, i) => {
    const bit = hintBit(i);
    if (d.hints === null) always |= bit;
    else for (const hint of d.hints) literals.push({ text: hint.toLowerCase(), bit });
    if (d.digitRun !== undefined) {
      digitMask |= bit;
      digitRun = Math.min(digitRun, d.digitRun);
    }
    if (d.dotRun !== undefined) {
      dotMask |= bit;
      dotRun = Math.min(dotRun, d.dotRun);
    }
  });

  // Class 0 is every character that no hint uses; upper and lower case share a class.
  const classOf = new Uint8Array(128);
  let classes = 1;
  for (const { text } of literals) {
    if (text.length === 0) throw new RangeError('a hint must not be empty');
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) throw new RangeError(`hint ${JSON.stringify(text)} is not ASCII`);
      if (classOf[c] === 0) {
        classOf[c] = classes;
        const upper = text.charAt(i).toUpperCase().charCodeAt(0);
        if (upper !== c && upper < 128) classOf[upper] = classes;
        classes++;
      }
    }
  }

  // The trie; -1 marks a missing edge until the failure links fill it in.
  const edges: number[][] = [new Array<number>(classes).fill(-1)];
  const out: number[] = [0];
  for (const { text, bit } of literals) {
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      const row = edges[state]!;
      const cls = classOf[text.charCodeAt(i)]!;
      let next = row[cls]!;
      if (next === -1) {
        next = edges.length;
        edges.push(new Array<number>(classes).fill(-1));
        out.push(0);
        row[cls] = next;
      }
      state = next;
    }
    out[state]! |= bit;
  }

  // Breadth-first failure links turn the trie into a complete automaton (a DFA).
  const fail = new Array<number>(edges.length).fill(0);
  const queue: number[] = [];
  const root = edges[0]!;
  for (let cls = 0; cls < classes; cls++) {
    if (root[cls] === -1) root[cls] = 0;
    else queue.push(root[cls]!);
  }
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head]!;
    out[state]! |= out[fail[state]!]!;
    const row = edges[state]!;
    const failRow = edges[fail[state]!]!;
    for (let cls = 0; cls < classes; cls++) {
      const next = row[cls]!;
      if (next === -1) row[cls] = failRow[cls]!;
      else {
        fail[next] = failRow[cls]!;
        queue.push(next);
      }
    }
  }
  const delta = new Int32Array(edges.length * classes);
  edges.forEach((row, state) => delta.set(row, state * classes));
  const output = Int32Array.from(out);

  // Tables in closure constants, not object fields: V8 then treats them as constants (~1.5x faster).
  return (text: string): number => {
    let mask = always;
    let state = 0;
    // Digits since the last character that is neither a digit, a space nor a dash: a superset of
    // "digits in a run with single separators", cheaper to count.
    let digits = 0;
    let longest = 0;
    // Characters of `[A-Za-z0-9_-]` since the last other one, and whether a `.` ended a long run.
    let word = 0;
    let dotted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      state = delta[state * classes + (c < 128 ? classOf[c]! : 0)]!;
      mask |= output[state]!;
      if ((c - 48) >>> 0 < 10) {
        if (++digits > longest) longest = digits;
        word++;
      } else {
        if (c !== 32 && c !== 45) digits = 0;
        if (((c | 32) - 97) >>> 0 < 26 || c === 95 || c === 45) word++;
        else {
          if (c === 46 && word >= dotRun) dotted = true;
          word = 0;
        }
      }
    }
    if (longest >= digitRun) mask |= digitMask;
    return dotted ? mask | dotMask : mask;
  };
}
