// The dashboard's only script (served as /assets/dashboard.js; CSP script-src 'self'). Pages work
// without it; it adds local times and keyboard navigation. It never writes markup: text only.

/** Log times are printed in UTC by the server; show them in the viewer's zone, UTC on hover. */
function localTimes(): void {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
    const d = new Date(t.dateTime);
    if (Number.isNaN(d.getTime())) continue;
    t.textContent = d.toLocaleString(undefined, {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    });
    t.title = `${t.dateTime} (UTC)`;
  }
}

/** j/k move through the rows of a page, Enter opens the row's first link, `/` focuses search. */
function keyboard(): void {
  const rows = (): HTMLElement[] => [...document.querySelectorAll<HTMLElement>('[data-nav]')];
  let at = -1;
  document.addEventListener('keydown', (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    if (ev.metaKey || ev.ctrlKey || ev.altKey) return;
    const list = rows();
    if (ev.key === 'j' || ev.key === 'k') {
      if (list.length === 0) return;
      at = Math.max(0, Math.min(list.length - 1, at + (ev.key === 'j' ? 1 : -1)));
      const row = list[at]!;
      const link = row.querySelector<HTMLAnchorElement>('a[href]');
      (link ?? row).focus();
      row.scrollIntoView({ block: 'nearest' });
      ev.preventDefault();
    } else if (ev.key === '/') {
      const search = document.querySelector<HTMLInputElement>('[data-search]');
      if (search) {
        search.focus();
        ev.preventDefault();
      }
    }
  });
}

localTimes();
keyboard();
