import * as fs from 'fs';
import * as path from 'path';

/** One `npx cdk ...` command of a document. */
export interface CdkCommand {
  /** The command as written (continuation lines joined, comment removed). */
  readonly text: string;
  /** Where it is: `README.md:184`. */
  readonly where: string;
  readonly subcommand: string;
  /** `-c key=value` pairs; a value in angle brackets (`env=<name>`) is a placeholder. */
  readonly context: Readonly<Record<string, string>>;
  /** Positional arguments: stack selectors, or the environment of `bootstrap`. */
  readonly positional: readonly string[];
  /** Flags without their values (`--all`, `--require-approval`, ...). */
  readonly flags: readonly string[];
}

/** Options of the CDK CLI that take a value (the value is not a selector). */
const OPTIONS_WITH_VALUES = new Set(['-c', '--context', '-o', '--output', '--app', '-a', '--require-approval', '--profile', '--region', '--qualifier', '--toolkit-stack-name', '--cloudformation-execution-policies', '--trust', '--trust-for-lookup', '--method', '--concurrency', '-e', '--exclusively-for']);

/** The fenced shell code blocks of a Markdown document, with the line each starts on. */
export function shellBlocks(markdown: string): { startLine: number; lines: string[] }[] {
  const blocks: { startLine: number; lines: string[] }[] = [];
  const all = markdown.split('\n');
  let current: { startLine: number; lines: string[] } | undefined;
  all.forEach((line, i) => {
    if (current) {
      if (/^```\s*$/.test(line)) {
        blocks.push(current);
        current = undefined;
      } else {
        current.lines.push(line);
      }
    } else if (/^```(bash|sh|shell|console)\s*$/.test(line)) {
      current = { startLine: i + 2, lines: [] };
    }
  });
  return blocks;
}

/** Every `npx cdk` command of `file`: in its shell blocks, and in inline code spans of its prose. */
export function cdkCommands(file: string): CdkCommand[] {
  const name = path.basename(file);
  const markdown = fs.readFileSync(file, 'utf8');
  const commands: CdkCommand[] = [];
  // Inline code may wrap across lines; code blocks are blanked first so their commands count once.
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, (block) => block.replace(/[^\n]/g, ' '));
  for (const match of prose.matchAll(/`(npx cdk [^`]+)`/g)) {
    const line = prose.slice(0, match.index).split('\n').length;
    commands.push(parseCdkCommand(match[1].replace(/\s+/g, ' ').trim(), `${name}:${line}`));
  }
  for (const block of shellBlocks(markdown)) {
    let pending = '';
    let pendingLine = 0;
    block.lines.forEach((raw, i) => {
      const line = raw.replace(/\s+#.*$/, '');
      if (!pending) pendingLine = block.startLine + i;
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1)} `;
        return;
      }
      const text = (pending + line).trim();
      pending = '';
      if (text.startsWith('npx cdk ')) commands.push(parseCdkCommand(text, `${name}:${pendingLine}`));
    });
  }
  return commands;
}

export function parseCdkCommand(text: string, where: string): CdkCommand {
  const words = text.split(/\s+/).slice(2);
  const [subcommand, ...rest] = words;
  const context: Record<string, string> = {};
  const positional: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i].replace(/^'(.*)'$/, '$1');
    if (word === '-c' || word === '--context') {
      const [key, ...value] = rest[++i].split('=');
      context[key] = value.join('=');
    } else if (word.startsWith('-')) {
      flags.push(word);
      if (OPTIONS_WITH_VALUES.has(word)) i++;
    } else {
      positional.push(word);
    }
  }
  return { text, where, subcommand, context, positional, flags };
}

/**
 * The here-document that writes `fileName` in a shell block (`cat > serving.json <<'JSON' ... JSON`), so a
 * test can use exactly the file the document tells users to write.
 */
export function hereDocument(file: string, fileName: string): string | undefined {
  for (const block of shellBlocks(fs.readFileSync(file, 'utf8'))) {
    const start = block.lines.findIndex((l) => new RegExp(`^cat > ${fileName.replace('.', '\\.')} <<'?(\\w+)'?`).test(l));
    if (start < 0) continue;
    const marker = /<<'?(\w+)'?/.exec(block.lines[start])![1];
    const end = block.lines.findIndex((l, i) => i > start && l.trim() === marker);
    return block.lines.slice(start + 1, end).join('\n');
  }
  return undefined;
}

/**
 * Whether a CDK CLI stack selector matches a stack's hierarchical ID. The CLI matches globs on the ID; our
 * stacks are top-level, so IDs hold no '/', and '*' and '?' are the only wildcards our docs use.
 */
export function selectorMatches(selector: string, stackId: string): boolean {
  const pattern = selector.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(stackId);
}

/** Whether a command argument is a placeholder for the reader to fill in (`<name>`). */
export function isPlaceholder(value: string): boolean {
  return /^<[^>]+>$/.test(value);
}
