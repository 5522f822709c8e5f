// Entry point: the two tabs (keyboard: arrow keys, Home, End, as the WAI-ARIA
// tabs pattern) and the two views behind them.
import { byId } from './dom.js';
import { startConsole } from './console-view.js';
import { startPlayground } from './playground.js';

const tabs = [byId('tab-console'), byId('tab-playground')];
let playground;

function select(tab) {
  for (const other of tabs) {
    const on = other === tab;
    other.setAttribute('aria-selected', String(on));
    other.tabIndex = on ? 0 : -1;
    byId(other.getAttribute('aria-controls')).hidden = !on;
  }
  tab.focus();
  // The module is fetched and compiled only when the playground is first shown.
  if (tab.id === 'tab-playground') playground ??= startPlayground();
}

for (const [index, tab] of tabs.entries()) {
  tab.addEventListener('click', () => select(tab));
  tab.addEventListener('keydown', (event) => {
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    select(tabs[(moves[event.key] + tabs.length) % tabs.length]);
  });
}

startConsole();
if (location.hash === '#playground') select(byId('tab-playground'));
