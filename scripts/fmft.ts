// The operators' one entry point: `npx tsx scripts/fmft.ts --help` lists the groups (endpoint, pipeline, data,
// evaluate, ...), `<group> --help` a group's commands, `<group> <command> --help` a command's options. The same
// program is package.json's bin `fmft` (bin/fmft.cjs). See README ("One command for operators: fmft").
import { main } from '../lib/operations/fmft-cli';

main(process.argv.slice(2), 'npx tsx scripts/fmft.ts');
