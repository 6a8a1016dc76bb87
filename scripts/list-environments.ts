// Prints the name of every configured environment, one per line, for scripts/test.sh.
import { ENVIRONMENTS } from '../lib/config/environments';

process.stdout.write(`${Object.keys(ENVIRONMENTS).join('\n')}\n`);
