// Writes the committed vectors: `node tests/vectors/generate.mjs` (after
// `cargo xtask build`). Each file fixes records made by one face of sessattr;
// tests/node/vectors.test.mjs reads every file with both faces, so a change
// of the record, envelope or UST format that breaks stored data fails there.
import { writeFileSync } from 'node:fs';

import { makeWithHost, makeWithJs } from './crossing.mjs';

const write = (name, v) => writeFileSync(new URL(name, import.meta.url), `${JSON.stringify(v, null, 2)}\n`);
write('records-from-npm.json', await makeWithJs());
write('records-from-host.json', await makeWithHost());
