#!/usr/bin/env node
// `fmft` (package.json "bin"; `npx fmft` in this repository, or `npm link` for a `fmft` on the PATH): the
// program of scripts/fmft.ts, through tsx as the project runs all its TypeScript (there is no build step).
require('tsx/cjs');
require('../lib/operations/fmft-cli.ts').main(process.argv.slice(2), 'fmft');
