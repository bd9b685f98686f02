/** The dashboard's stylesheet, served as /assets/dashboard.css (CSP: style-src 'self'). */
export const STYLES = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1a1a1a; --muted: #4a4a4a; --line: #d0d0d0;
  --panel: #f5f5f5; --link: #0645ad; --allow: #1b5e20; --deny: #a4001d; --held: #6d4600; --info: #0b4f8a;
  --bar: #2f5f9e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #ececec; --muted: #c2c2c2; --line: #3a3a3a; --panel: #1e1e1e;
    --link: #9cc3ff; --bar: #6fa3e8; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--link); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, [tabindex]:focus { outline: 3px solid var(--link); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px; }
header.top { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 8px 16px; border-bottom: 1px solid var(--line); }
header.top nav ul { display: flex; gap: 16px; list-style: none; margin: 0; padding: 0; }
header.top .who { margin-left: auto; display: flex; gap: 8px; align-items: center; }
.brand { font-weight: 700; }
.banner { padding: 8px 16px; background: var(--held); color: #ffffff; }
main { padding: 16px; max-width: 1280px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 12px; } h2 { font-size: 1.2rem; margin: 20px 0 8px; } h3 { font-size: 1rem; margin: 0 0 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
.card .n { font-size: 1.6rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td, dd { overflow-wrap: anywhere; }
code, pre, .mono { font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; color: #ffffff; background: var(--info); font-size: 0.85em; font-weight: 600; }
.b-allow, .b-success, .b-granted, .b-ok { background: var(--allow); }
.b-deny, .b-denied, .b-failure, .b-timeout, .b-fail, .b-blocked { background: var(--deny); }
.b-require_approval, .b-pending, .b-held, .b-pii, .b-phi, .b-expired { background: var(--held); }
.b-info, .b-other, .b-used, .b-cancelled, .b-confidential, .b-internal, .b-public { background: var(--info); }
.action { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 10px 0; }
.action:focus-within { border-color: var(--link); }
.steps { display: grid; grid-template-columns: 110px 1fr; gap: 4px 12px; margin: 6px 0 0; }
.steps dt { font-weight: 600; } .steps dd { margin: 0; }
.marker { font-weight: 700; color: var(--deny); }
@media (prefers-color-scheme: dark) { .marker { color: #ff9a9a; } }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
form.filters label, .field label { display: flex; flex-direction: column; font-size: 0.9em; }
input, select, textarea, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--muted); border-radius: 4px; padding: 4px 8px; }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--link); color: var(--bg); border-color: var(--link); }
textarea { width: 100%; min-height: 3em; }
.chart { width: 100%; max-width: 760px; height: auto; }
.chart .bar { fill: var(--bar); } .chart .axis { fill: var(--muted); font-size: 10px; }
.error { border-left: 4px solid var(--deny); padding: 8px 12px; background: var(--panel); }
.ok { border-left: 4px solid var(--allow); padding: 8px 12px; background: var(--panel); }
.empty { padding: 16px; background: var(--panel); border-radius: 6px; }
.diff .d-add { color: var(--allow); } .diff .d-del { color: var(--deny); } .diff .d-chg { color: var(--held); }
@media (prefers-color-scheme: dark) { .diff .d-add { color: #8fd694; } .diff .d-del { color: #ff9a9a; } .diff .d-chg { color: #f0c674; } }
.diff { background: var(--panel); padding: 8px 12px; border-radius: 6px; }
.tree, .tree ul { list-style: none; padding-left: 18px; margin: 4px 0; } .tree li { border-left: 2px solid var(--line); padding-left: 8px; margin: 2px 0; }
.tail { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
tr.fresh td { background: var(--panel); }
@media (max-width: 640px) { .steps { grid-template-columns: 1fr; } th, td { padding: 4px; } }
`;
