/**
 * How auditrail starts Chromium (the PDF renderer, the dashboard's browser tests, the bench and
 * the screenshots): the system's browser, never a downloaded one, with nothing phoning home.
 */

/** The browser used unless AUDITRAIL_CHROMIUM names another. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** The Chromium to start: `AUDITRAIL_CHROMIUM`, else {@link DEFAULT_CHROMIUM}. */
export function chromiumPath(): string {
  const env = process.env['AUDITRAIL_CHROMIUM'];
  return env !== undefined && env !== '' ? env : DEFAULT_CHROMIUM;
}

/** Flags for a headless, offline, quiet browser (no sandbox: it runs as root in containers). */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
