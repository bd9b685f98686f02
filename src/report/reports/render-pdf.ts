/**
 * A report as PDF: its HTML printed by Chromium (playwright-core driving the system's browser, no
 * download), A4, with the report id, generation time and page numbers in every page's footer.
 * The page may make no request: the HTML's CSP forbids it and every request is refused here too.
 */
import { AuditError } from '../../index.js';
import type { ReportModel, ReportSource } from './model.js';
import { renderHtml } from './render-html.js';
import { escapeHtml } from '../../internal/html.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../../internal/chromium.js';

/** Rows of each timeline printed; the HTML and JSON forms carry all of them. */
export const PDF_TIMELINE_ROWS = 2000;

/**
 * Prints the report to PDF bytes. Throws AuditError('not_found') when the browser is missing.
 *
 * @example
 * writeFileSync('q4.pdf', await renderPdf(model, source));
 */
export async function renderPdf(
  model: ReportModel,
  source: ReportSource,
  options: { executablePath?: string; maxTimelineRows?: number } = {},
): Promise<Buffer> {
  const { chromium } = await import('playwright-core');
  const executablePath = options.executablePath ?? chromiumPath();
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: [...CHROMIUM_FLAGS], headless: true });
  } catch (e) {
    throw new AuditError(
      'not_found',
      `cannot start Chromium at ${executablePath} for the PDF (set AUDITRAIL_CHROMIUM to its path)`,
      { cause: e },
    );
  }
  try {
    const page = await browser.newPage({ javaScriptEnabled: false });
    await page.route('**/*', (route) => route.abort());
    await page.setContent(
      renderHtml(model, source, {
        maxTimelineRows: options.maxTimelineRows ?? PDF_TIMELINE_ROWS,
        embedSource: false,
      }),
      { waitUntil: 'load' },
    );
    const footer =
      `<div style="font:8px system-ui,sans-serif;color:#555;width:100%;padding:0 10mm;display:flex;justify-content:space-between">` +
      `<span>${escapeHtml(model.title)} · ${escapeHtml(model.id)} · generated ${escapeHtml(model.generated_at)}</span>` +
      `<span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`;
    return await page.pdf({
      format: 'A4',
      printBackground: true,
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: footer,
      margin: { top: '14mm', bottom: '16mm', left: '10mm', right: '10mm' },
    });
  } finally {
    await browser.close();
  }
}
